"""Image input: any source in, the upright image and what to send the model out.

Every coordinate the toolkit returns refers to the upright image a viewer shows, so the EXIF
orientation is applied first. A JPEG or PNG that needs no change (upright, 8-bit RGB or grey,
within the profile's pixel limit, at most 5 MB) is sent as its own bytes, after a walk of its
structure in place of a decode: faithful and about 20 times cheaper. Anything else is decoded
and sent downscaled to the profile's limit (GLM's server caps at about 5.9 MP, so more pixels
only cost upload time) as JPEG quality 90, or PNG where transparency matters. Models that
answer in pixels of their input (Qwen2.5-VL) get an image already at their ``smart_resize``
size, so the size sent is the size they read in.

A JPEG photo to downscale (8-bit RGB or grey) goes through libjpeg-turbo and libvips' ``reduce``
when they are installed (``grounding/_jpegshrink.py``: about half Pillow's CPU, same size sent,
closer to a Lanczos downscale); everything else, and a forked child, takes Pillow's path.

Decoding is bounded: at most :data:`DECODE_BUDGET_PIXELS` decoded pixels are in flight across
threads (one larger image runs alone), and a JPEG at least four times the target size on each
side is decoded already halved (or quartered...) by the JPEG decoder itself.

>>> from PIL import Image
>>> prepared = prepare_image(Image.new("RGB", (4000, 3000)), max_pixels=1_000_000)
>>> prepared.size, prepared.sent_size, prepared.url[:23]
((4000, 3000), (1154, 866), 'data:image/jpeg;base64,')
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from grounding import _jpegshrink as jpegshrink
from grounding._downscale import JPEG_QUALITY, downscale, encode
from grounding._imagefile import Corrupt, PixelBudget, PngHeader, jpeg_end, png_header
from grounding.coords import smart_resize
from grounding.errors import ImageError
from grounding.profiles import Profile, Reference

__all__ = [
    "DECODE_BUDGET_PIXELS",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "ImageSource",
    "PreparedImage",
    "load_image",
    "prepare_image",
]

ImageSource = str | Path | bytes | Image.Image | np.ndarray
DEFAULT_MAX_IMAGE_PIXELS = 150_000_000  # decompression-bomb guard, checked before decoding
DECODE_BUDGET_PIXELS = 150_000_000  # decoded pixels in flight across threads (about 0.6 GB)
MAX_PASSTHROUGH_BYTES = 5_000_000  # the providers' documented limit per image
_ORIENTATION = 0x0112  # the EXIF tag
_ROTATING = (5, 6, 7, 8)  # orientations that swap width and height
_BUDGET = PixelBudget(DECODE_BUDGET_PIXELS)
# Pillow allocates pixels in blocks of 16 MB, under glibc's mmap threshold once it has risen
# (up to 32 MB after the first large free): freed blocks then stay in each thread's malloc
# arena, and six threads that decoded a 144 MP image one after another held 1.3 GB instead of
# 0.75. Blocks of 64 MB are always mapped and unmapped, so freed pixels go back to the system.
_core: Any = getattr(Image, "core")  # noqa: B009  (the C module; not in Pillow's stubs)
if _core.get_block_size() == 16 * 1024 * 1024:  # Pillow's default, not the user's choice
    _core.set_block_size(64 * 1024 * 1024)


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for a request.

    ``size`` is the upright original (the frame of every returned coordinate), ``sent_size``
    what the model receives, ``url`` a ``data:`` URL (or the caller's http(s) URL, passed
    through), ``digest`` the SHA-256 of the bytes sent (the cache key's image part). No decoded
    pixels are kept: a prepared image costs the size of its URL.
    """

    url: str
    size: tuple[int, int]
    sent_size: tuple[int, int]
    digest: str
    name: str


def _name(source: ImageSource) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {'x'.join(map(str, source.shape))}>"
    return f"<{type(source).__name__}>"


def _read(source: str | Path | bytes, name: str, timeout: float) -> bytes:
    """The encoded bytes of a path, URL, ``data:`` URL or bytes source."""
    if isinstance(source, bytes):
        if not source:
            raise ImageError(name, "empty data")
        return source
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        try:
            reply = httpx.get(source, timeout=timeout, follow_redirects=True)
            reply.raise_for_status()
        except httpx.HTTPError as exc:
            raise ImageError(name, f"cannot be downloaded: {exc}") from None
        if not reply.content:
            raise ImageError(name, "empty data")
        return reply.content
    if isinstance(source, str) and source.startswith("data:"):
        try:
            payload = base64.b64decode(source.split(",", 1)[1], validate=False)
        except (IndexError, ValueError):
            raise ImageError(name[:40], "malformed data: URL") from None
        if not payload:
            raise ImageError("data: URL", "empty data")
        return payload
    path = Path(source).expanduser()
    try:
        if path.stat().st_size == 0:  # also a FIFO or device: never read from it
            raise ImageError(name, "empty file")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(name, "no such file") from None
    except IsADirectoryError:
        raise ImageError(name, "is a directory, not an image") from None
    except PermissionError:
        raise ImageError(name, "permission denied") from None
    except OSError as exc:
        raise ImageError(name, f"cannot be read: {exc.strerror or exc}") from None


def _header(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """The image opened lazily (nothing decoded yet), its pixel count checked."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(name, "not an image (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(name, f"too large: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(name, f"cannot be read: {exc}") from None
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise ImageError(
            name,
            f"too large: {image.width}x{image.height} = {pixels / 1e6:.0f} MP is over the "
            f"limit of {max_pixels / 1e6:.0f} MP (max_image_pixels)",
        )
    return image


def _decode(image: Image.Image, name: str) -> Image.Image:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(name, f"truncated or corrupt: {exc}") from None
    return image


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(name, "an array must be HxW, HxWx3 (RGB) or HxWx4 (RGBA)")
    if array.size == 0:
        raise ImageError(name, "empty array")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and float(np.nanmax(array)) <= 1.0:
            array = np.nan_to_num(array) * 255.0
        array = np.clip(array, 0, 255).astype(np.uint8)
    return Image.fromarray(array)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float images as 8-bit greyscale, keeping relative brightness."""
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        low, top = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
        array = (array - low) / ((top - low) or 1.0) * 255.0
        return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")
    # integers: floor(v / 257) as integer division, in a quarter of float64's memory
    values = np.asarray(image)
    top = int(values.max()) if values.size else 0
    if top > 255:
        values = values // 257
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")


def _normalize_mode(image: Image.Image) -> Image.Image:
    """RGB, L, or RGBA only when some pixel is actually transparent."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _to_8bit(image)
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode == "LA":
        return image.convert("L") if image.getchannel("A").getextrema()[0] == 255 else image
    if image.mode in ("RGBA", "RGBa"):
        image = image.convert("RGBA")
        return image.convert("RGB") if image.getchannel("A").getextrema()[0] == 255 else image
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 1


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 when absent or unreadable)."""
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        return 1  # unreadable EXIF: keep the stored orientation
    return value if isinstance(value, int) and value not in (0,) else 1


def _upright(image: Image.Image) -> tuple[Image.Image, bool]:
    """The upright image in RGB, L or RGBA, and whether the EXIF orientation changed it."""
    try:
        rotated = image.getexif().get(_ORIENTATION, 1) not in (0, 1)
        upright = ImageOps.exif_transpose(image) if rotated else image
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        rotated, upright = False, image  # unreadable EXIF: keep the stored orientation
    return _normalize_mode(upright if upright is not None else image), rotated


def load_image(
    source: ImageSource,
    *,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    timeout: float = 30.0,
) -> Image.Image:
    """The upright image (EXIF orientation applied) in RGB, L or RGBA, from any source.

    ``source`` is a path, an http(s) URL, encoded bytes, a PIL image or an RGB(A) numpy
    array. Raises :class:`~grounding.errors.ImageError` naming the source and the reason.
    """
    name = _name(source)
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        image = _from_array(source, name)
    elif isinstance(source, (str, Path, bytes)):
        data = _read(source, name, timeout)
        image = _decode(_header(data, _data_name(source, name), max_image_pixels), name)
    else:
        raise ImageError(name, "unsupported source type (path, URL, bytes, PIL image or array)")
    return _upright(image)[0]


def _data_name(source: object, name: str) -> str:
    return "data: URL" if isinstance(source, str) and source.startswith("data:") else name


def _target_size(
    width: int, height: int, profile: Profile | None, max_pixels: int | None
) -> tuple[int, int]:
    limit = max_pixels if max_pixels is not None else (profile.max_pixels if profile else None)
    if profile is not None and profile.reference is Reference.RESIZED_INPUT:
        kwargs: dict[str, Any] = {"max_pixels": limit} if limit else {}
        h, w = smart_resize(height, width, **kwargs)
        return w, h
    if limit and width * height > limit:
        scale = math.sqrt(limit / (width * height))
        return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    return width, height


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: a budget the parent's threads held is
    gone with them, so start afresh (else the first decode waits forever)."""
    _BUDGET.reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _as_is(
    data: bytes, image: Image.Image, png: PngHeader | None, name: str
) -> tuple[str, int] | None:
    """(media type, length) when the file can be sent as its own bytes: JPEG or PNG, 8-bit
    RGB or grey, no transparency, upright as stored. Checks the structure instead of decoding
    (``ImageError`` when it is broken)."""
    if image.format in ("JPEG", "MPO") and image.mode in ("RGB", "L"):
        if _orientation(image) != 1:
            return None
        try:
            return "image/jpeg", jpeg_end(data)
        except Corrupt as exc:
            raise ImageError(name, f"truncated or corrupt: {exc}") from None
    if png is not None and image.mode in ("RGB", "L"):
        if png.bit_depth != 8 or png.colour_type not in (0, 2) or png.transparency:
            return None
        return "image/png", png.end
    return None


def _draft(image: Image.Image, target: tuple[int, int], orientation: int) -> bool:
    """Let the JPEG decoder itself shrink by 2, 4 or 8 when at least a twofold area-averaging
    downscale remains after it (closer than that costs sharpness) and the sides divide
    exactly (so the geometry stays exact). True when it will."""
    if image.format not in ("JPEG", "MPO"):
        return False
    width, height = target[::-1] if orientation in _ROTATING else target
    for factor in (8, 4, 2):
        if image.width % factor or image.height % factor:
            continue
        if image.width // factor >= 2 * width and image.height // factor >= 2 * height:
            image.draft(image.mode, (image.width // factor, image.height // factor))
            return True
    return False


def prepare_image(
    source: ImageSource,
    *,
    profile: Profile | None = None,
    max_pixels: int | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    inline_urls: bool = False,
) -> PreparedImage:
    """Load ``source`` upright and encode what to send: see the module docstring.

    ``max_pixels`` overrides the profile's limit on the pixels sent (None: the profile's).
    An http(s) URL is passed through to the API untouched when the file could be sent as it
    is (unless ``inline_urls``: then its bytes are sent, for servers that cannot reach the
    internet); it is downloaded once either way, to learn its size and check it, and
    ``digest`` is the SHA-256 of the bytes downloaded, so a changed image behind the same URL
    is a different image.
    """
    prepared = _prepare(source, profile, max_pixels, max_image_pixels, inline_urls, decode=True)
    assert prepared is not None  # with decode=True there is always an answer
    return prepared


def prepare_as_is(
    source: str | Path | bytes,
    *,
    profile: Profile | None = None,
    max_pixels: int | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> PreparedImage | None:
    """What :func:`prepare_image` gives for a local file or bytes that go as they are, or
    None when the image needs decoding: no pixels are decoded, so this is cheap enough to
    run on an event loop (a thread costs more than the work for a small image).

    >>> from PIL import Image
    >>> small, big = io.BytesIO(), io.BytesIO()
    >>> Image.new("RGB", (64, 48)).save(small, "JPEG")
    >>> Image.new("RGB", (4000, 3000)).save(big, "JPEG")
    >>> prepare_as_is(small.getvalue()).sent_size
    (64, 48)
    >>> prepare_as_is(big.getvalue(), max_pixels=1_000_000) is None  # to be downscaled
    True
    """
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return None
    return _prepare(source, profile, max_pixels, max_image_pixels, False, decode=False)


def _prepare(
    source: ImageSource,
    profile: Profile | None,
    max_pixels: int | None,
    max_image_pixels: int,
    inline_urls: bool,
    *,
    decode: bool,
) -> PreparedImage | None:
    """``prepare_image``; with ``decode`` False, None where it would decode pixels."""
    name = _name(source)
    if isinstance(source, (Image.Image, np.ndarray)):
        if not decode:
            return None
        image = source if isinstance(source, Image.Image) else _from_array(source, name)
        image = _upright(image)[0]
        size = (image.width, image.height)
        return _send(image, size, _target_size(*size, profile, max_pixels), name)
    if not isinstance(source, (str, Path, bytes)):
        raise ImageError(name, "unsupported source type (path, URL, bytes, PIL image or array)")
    data = _read(source, name, 30.0)
    image = _header(data, _data_name(source, name), max_image_pixels)
    try:
        png = png_header(data) if image.format == "PNG" else None
    except Corrupt as exc:
        raise ImageError(name, f"truncated or corrupt: {exc}") from None
    if png is not None and png.exif:  # Pillow reads a PNG's EXIF only by decoding it all
        if not decode:
            return None
        with _BUDGET.hold(image.width * image.height):
            upright = _upright(_decode(image, name))[0]
            del image
            size = (upright.width, upright.height)
            return _send(upright, size, _target_size(*size, profile, max_pixels), name)
    orientation = 1 if png is not None else _orientation(image)
    stored = (image.width, image.height)
    size = stored[::-1] if orientation in _ROTATING else stored
    target = _target_size(*size, profile, max_pixels)
    as_is = _as_is(data, image, png, name) if target == size else None
    if as_is is not None and as_is[1] <= MAX_PASSTHROUGH_BYTES:
        media_type, end = as_is
        if (
            isinstance(source, str)
            and source.startswith(("http://", "https://"))
            and not inline_urls
        ):
            return PreparedImage(source, size, size, hashlib.sha256(data).hexdigest(), name)
        sent = data if end == len(data) else data[:end]
        url = f"data:{media_type};base64,{base64.b64encode(sent).decode('ascii')}"
        return PreparedImage(url, size, size, hashlib.sha256(sent).hexdigest(), name)
    if not decode:
        return None
    shrinkable = image.format in ("JPEG", "MPO") and not _draft(image, target, orientation)
    with _BUDGET.hold(image.width * image.height):
        small = (
            jpegshrink.shrink(data, image.mode, stored, target, orientation, JPEG_QUALITY)
            if shrinkable
            else None
        )
        if small is not None:  # libjpeg-turbo + libvips: see grounding/_jpegshrink.py
            url = f"data:image/jpeg;base64,{base64.b64encode(small).decode('ascii')}"
            return PreparedImage(url, size, target, hashlib.sha256(small).hexdigest(), name)
        upright = _upright(_decode(image, name))[0]
        del image  # the decoded original lives only until it is downscaled
        return _send(upright, size, target, name)


def _send(
    image: Image.Image, size: tuple[int, int], target: tuple[int, int], name: str
) -> PreparedImage:
    """Downscale ``image`` (the upright original, maybe decoded at a fraction of ``size``) to
    ``target`` and encode it."""
    sent = image if (image.width, image.height) == target else downscale(image, target)
    media_type, data = encode(sent)
    url = f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
    return PreparedImage(url, size, target, hashlib.sha256(data).hexdigest(), name)
