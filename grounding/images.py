"""Image input: any source in, the upright image and what to send the model out.

Every coordinate the toolkit returns refers to the upright image a viewer shows, so the EXIF
orientation is applied first. The image sent is downscaled to the profile's limit (GLM's
server caps at about 5.9 MP, so more pixels only cost upload time), as JPEG quality 90, or
PNG where transparency matters. Models that answer in pixels of their input (Qwen2.5-VL) get
an image already at their ``smart_resize`` size, so the size sent is the size they read in.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from grounding.coords import smart_resize
from grounding.errors import ImageError
from grounding.profiles import Profile, Reference

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "ImageSource",
    "PreparedImage",
    "load_image",
    "prepare_image",
]

ImageSource = str | Path | bytes | Image.Image | np.ndarray
DEFAULT_MAX_IMAGE_PIXELS = 150_000_000  # decompression-bomb guard, checked before decoding
JPEG_QUALITY = 90
_ORIENTATION = 0x0112  # the EXIF tag


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for a request.

    ``size`` is the upright original (the frame of every returned coordinate), ``sent_size``
    what the model receives, ``url`` a ``data:`` URL (or the caller's http(s) URL, passed
    through), ``digest`` the SHA-256 of the bytes sent (the cache key's image part).
    """

    url: str
    size: tuple[int, int]
    sent_size: tuple[int, int]
    digest: str
    name: str
    image: Image.Image = field(repr=False, compare=False)


def _name(source: ImageSource) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {'x'.join(map(str, source.shape))}>"
    return f"<{type(source).__name__}>"


def _open(data: bytes | Path, name: str, max_pixels: int) -> Image.Image:
    if isinstance(data, Path):
        try:
            if data.stat().st_size == 0:
                raise ImageError(name, "empty file")
        except FileNotFoundError:
            raise ImageError(name, "no such file") from None
        except IsADirectoryError:
            raise ImageError(name, "is a directory, not an image") from None
        except PermissionError:
            raise ImageError(name, "permission denied") from None
    elif not data:
        raise ImageError(name, "empty data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(data if isinstance(data, Path) else io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(name, "not an image (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(name, f"too large: {exc}") from None
    except OSError as exc:
        raise ImageError(name, f"cannot be read: {exc}") from None
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise ImageError(
            name,
            f"too large: {image.width}x{image.height} = {pixels / 1e6:.0f} MP is over the "
            f"limit of {max_pixels / 1e6:.0f} MP (max_image_pixels)",
        )
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
    array = np.asarray(image, dtype=np.float64)
    top = float(array.max()) if array.size else 0.0
    if image.mode == "F":
        low = float(array.min())
        array = (array - low) / ((top - low) or 1.0) * 255.0
    elif top > 255:
        array = array / 257.0
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")


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
    return _load_upright(source, max_image_pixels, timeout)[0]


def _load_upright(
    source: ImageSource, max_image_pixels: int, timeout: float = 30.0
) -> tuple[Image.Image, bool]:
    """The upright image and whether the EXIF orientation changed it."""
    image, rotated, _ = _load_upright_digest(source, max_image_pixels, timeout)
    return image, rotated


def _load_upright_digest(
    source: ImageSource, max_image_pixels: int, timeout: float = 30.0
) -> tuple[Image.Image, bool, str | None]:
    """As :func:`_load_upright`, plus the SHA-256 of the bytes downloaded for an http(s) URL."""
    name = _name(source)
    downloaded: str | None = None
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        image = _from_array(source, name)
    elif isinstance(source, bytes):
        image = _open(source, name, max_image_pixels)
    elif isinstance(source, str) and source.startswith(("http://", "https://")):
        try:
            reply = httpx.get(source, timeout=timeout, follow_redirects=True)
            reply.raise_for_status()
        except httpx.HTTPError as exc:
            raise ImageError(name, f"cannot be downloaded: {exc}") from None
        downloaded = hashlib.sha256(reply.content).hexdigest()
        image = _open(reply.content, name, max_image_pixels)
    elif isinstance(source, str) and source.startswith("data:"):
        try:
            payload = base64.b64decode(source.split(",", 1)[1], validate=False)
        except (IndexError, ValueError):
            raise ImageError(name[:40], "malformed data: URL") from None
        image = _open(payload, "data: URL", max_image_pixels)
    elif isinstance(source, (str, Path)):
        image = _open(Path(source).expanduser(), name, max_image_pixels)
    else:
        raise ImageError(name, "unsupported source type (path, URL, bytes, PIL image or array)")
    try:
        rotated = image.getexif().get(_ORIENTATION, 1) not in (0, 1)
        upright = ImageOps.exif_transpose(image) if rotated else image
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        rotated, upright = False, image  # unreadable EXIF: keep the stored orientation
    return _normalize_mode(upright if upright is not None else image), rotated, downloaded


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


_BANDS = max(1, min(4, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
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


def _encode(image: Image.Image) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA"):
        image.save(buffer, "PNG", optimize=False, compress_level=3)
        return "image/png", buffer.getvalue()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return "image/jpeg", buffer.getvalue()


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
    An http(s) URL is passed through to the API untouched when the image needs no rotation
    or resizing (unless ``inline_urls``: then its pixels are sent, for servers that cannot
    reach the internet); it is downloaded once either way, to learn its size, and
    ``digest`` is the SHA-256 of the bytes downloaded, so a changed image behind the same
    URL is a different image.
    """
    image, rotated, downloaded = _load_upright_digest(source, max_image_pixels)
    size = (image.width, image.height)
    target = _target_size(image.width, image.height, profile, max_pixels)
    sent = image if target == size else _resize(image, target)
    if (
        isinstance(source, str)
        and source.startswith(("http://", "https://"))
        and target == size
        and not rotated
        and not inline_urls
        and downloaded is not None
    ):
        return PreparedImage(source, size, target, downloaded, source, image)
    media_type, data = _encode(sent)
    url = f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
    return PreparedImage(url, size, target, hashlib.sha256(data).hexdigest(), _name(source), image)
