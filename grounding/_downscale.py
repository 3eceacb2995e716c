"""Pillow's side of preparing an image: the area-averaging downscale, in bands over the
cores for large images, and the encoder (JPEG quality 90, or PNG where transparency matters).

>>> from PIL import Image
>>> downscale(Image.new("RGB", (4000, 3000)), (1000, 750)).size
(1000, 750)
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

__all__ = ["JPEG_QUALITY", "downscale", "encode"]

JPEG_QUALITY = 90
_BANDS = max(1, min(4, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: the parent's resize threads are gone,
    so start the pool afresh (else the first resize waits forever)."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def downscale(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Area-averaging downscale; large images in horizontal bands on several cores.

    Pillow releases the GIL while resampling, and ``resize(box=...)`` makes each band exactly
    the rows it would be in one pass, so the result is identical, only sooner.
    """
    width, height = size
    bands = _BANDS if image.width * image.height >= 4_000_000 and height >= 2 * _BANDS else 1
    if bands == 1:
        return image.resize(size, Image.Resampling.BOX)
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_BANDS, thread_name_prefix="grounding-resize")
    rows = [round(height * i / bands) for i in range(bands + 1)]
    scale = image.height / height

    def band(i: int) -> Image.Image:
        box = (0.0, rows[i] * scale, float(image.width), rows[i + 1] * scale)
        return image.resize((width, rows[i + 1] - rows[i]), Image.Resampling.BOX, box=box)

    out = Image.new(image.mode, size)
    for i, part in enumerate(_pool.map(band, range(bands))):
        out.paste(part, (0, rows[i]))
    return out


def encode(image: Image.Image) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA"):
        image.save(buffer, "PNG", optimize=False, compress_level=3)
        return "image/png", buffer.getvalue()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return "image/jpeg", buffer.getvalue()
