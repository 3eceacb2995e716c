"""Downscaling a JPEG photo at a fraction of Pillow's CPU, with the same result where it matters.

libjpeg-turbo decodes it (``simplejpeg``: the same decoder, settings and pixels as Pillow's),
libvips' ``reduce`` (``pyvips``, vectorised) downscales it with a linear kernel widened to the
shrink, and libvips encodes the result as JPEG quality 90 with 4:2:0 chroma, which decodes to
the same pixels as Pillow's encoder at those settings. A 12 MP photo sent at 5.9 MP costs about
half the CPU of Pillow's decode, area-averaging resize and encode, and lands closer to a float
Lanczos downscale (``python benchmarks/prepare_image.py``).

Narrow on purpose: only a JPEG that Pillow reads as 8-bit RGB or grey, only a downscale, no
colour management (an ICC profile is neither applied nor sent, as with Pillow), the EXIF
orientation applied to the small image after the resize. :func:`shrink` answers ``None``
whenever it does not apply, and the caller takes the Pillow path: when either library is
missing, when the decoder objects to anything (Pillow then decodes the file or names the
fault), and in a process forked after libvips was loaded here (its thread pool does not
survive a fork; the child uses Pillow).

>>> import io
>>> from PIL import Image
>>> buffer = io.BytesIO()
>>> Image.new("RGB", (400, 300), (200, 30, 30)).save(buffer, "JPEG")
>>> small = shrink(buffer.getvalue(), "RGB", (400, 300), (200, 150), 1)
>>> small is None or Image.open(io.BytesIO(small)).size == (200, 150)
True
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any

__all__ = ["reduced", "shrink"]

_ORIENTATION_KEY = "orientation"  # libvips' name for the EXIF orientation it rotates by
_lock = threading.Lock()
_libraries: tuple[Any, Any] | None = None  # (pyvips, simplejpeg) once loaded
_loaded_in = 0  # the process that loaded them (0: not tried yet, -1: not importable)


def _load() -> tuple[Any, Any] | None:
    """(pyvips, simplejpeg), or None when not importable or in a forked child of the process
    that loaded libvips."""
    global _libraries, _loaded_in
    if _loaded_in == 0:
        with _lock:
            if _loaded_in == 0:
                try:
                    pyvips = importlib.import_module("pyvips")
                    simplejpeg = importlib.import_module("simplejpeg")
                    # libvips caches recent operations with their input images: tens of MB of
                    # decoded photos kept alive for nothing here
                    pyvips.cache_set_max(0)
                    _libraries = (pyvips, simplejpeg)
                    _loaded_in = os.getpid()
                except (ImportError, OSError):  # OSError: pyvips found no libvips
                    _loaded_in = -1
    return _libraries if _loaded_in == os.getpid() else None


def shrink(
    data: bytes,
    mode: str,
    stored: tuple[int, int],
    target: tuple[int, int],
    orientation: int,
    quality: int = 90,
) -> bytes | None:
    """JPEG bytes of ``data`` (Pillow's ``mode`` "RGB" or "L", ``stored`` pixels as stored)
    downscaled to ``target`` (upright), turned upright by the EXIF ``orientation`` and encoded
    at ``quality``; None when this path does not apply (see the module docstring)."""
    small = reduced(data, mode, stored, target, orientation)
    if small is None:
        return None
    pyvips = small[1]
    try:
        encoded: bytes = small[0].jpegsave_buffer(Q=quality, subsample_mode="on", keep="none")
    except pyvips.Error:
        return None
    return encoded


def reduced(
    data: bytes,
    mode: str,
    stored: tuple[int, int],
    target: tuple[int, int],
    orientation: int,
) -> tuple[Any, Any] | None:
    """(the upright downscaled ``pyvips.Image``, pyvips) before encoding, or None: the pixels
    :func:`shrink` sends (``benchmarks/prepare_image.py`` measures their fidelity)."""
    if mode not in ("RGB", "L"):
        return None
    rotates = orientation in (5, 6, 7, 8)
    width, height = target[::-1] if rotates else target
    if width > stored[0] or height > stored[1] or (width, height) == stored:
        return None  # not a downscale
    libraries = _load()
    if libraries is None:
        return None
    pyvips, simplejpeg = libraries
    try:  # strict: any warning of the decoder's and Pillow decides
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB" if mode == "RGB" else "GRAY")
    except ValueError:
        return None
    rows, columns, bands = pixels.shape
    if (columns, rows) != stored:
        return None
    try:
        image = pyvips.Image.new_from_memory(pixels.data, columns, rows, bands, "uchar")
        small = image.reduce(columns / width, rows / height, kernel="linear")
        if orientation in range(2, 9):
            small = small.copy()
            small.set_type(pyvips.GValue.gint_type, _ORIENTATION_KEY, orientation)
            small = small.autorot()
    except pyvips.Error:
        return None
    return (small, pyvips) if (small.width, small.height) == target else None
