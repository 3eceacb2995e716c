"""CPU time to prepare one photo for GLM: ``python benchmarks/prepare_image.py``.

Photos of 2, 5, 12 and 24 MP (camera-like JPEGs, quality 92, generated), prepared for
``glm-4.5v`` (at most about 5.9 MP sent). Sides, interleaved call by call, CPU time of the
process (all threads) per image, best of ``--runs`` with the range:

- ``prepare_image``: what the toolkit does now (the file's own bytes when nothing needs
  changing; a JPEG to downscale through libjpeg-turbo + libvips' ``reduce``, see
  ``grounding/_jpegshrink.py``; else Pillow);
- ``decode+encode``: what it did before for every image (``prepare_image(load_image(...))``);
- for the photos that need a downscale, the options weighed for it:
  ``Pillow`` (``prepare_image`` with the fast path off: decode, area-averaging resize in
  bands over the cores, JPEG 90; the toolkit's path until now and its fallback),
  ``Pillow, block cache`` (the same with ``PIL.Image.core.set_blocks_max(4)``: freed 64 MB
  pixel blocks reused instead of mapped afresh; one untimed call first so that it is warm),
  ``pyvips alone`` (libvips decodes, reduces with the same kernel and encodes: no simplejpeg),
  ``pyvips thumbnail`` (``thumbnail_buffer``, its Lanczos 3 shrink-on-load path) and
  ``simplejpeg M/8 + BOX`` (libjpeg-turbo decodes at the smallest M/8 of each side that is
  still at least the target, 6/8 at 12 MP and 4/8 at 24 MP, then Pillow's BOX).

Quality: PSNR (RGB) of the pixels sent against a float Lanczos downscale of the full decode,
before JPEG encoding where a resize is involved; for untouched images, of the decoded image
sent against the original pixels (identical bytes: infinite).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding import _jpegshrink, get_profile, load_image, prepare_image
from grounding._downscale import downscale

SIZES = {"2": (1632, 1224), "5": (2448, 2048), "12": (4000, 3000), "24": (6000, 4000)}  # MP
PROFILE = get_profile("glm-4.5v")
_core: Any = getattr(Image, "core")  # noqa: B009  (the C module; not in Pillow's stubs)


def photo(width: int, height: int) -> bytes:
    """Smooth shapes, edges and mild sensor noise: compresses like a camera JPEG (~0.5 B/px)."""
    rng = np.random.default_rng(width)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 128 + 90 * np.sin(x / 97) * np.cos(y / 153)
    green = 128 + 80 * np.sin((x + y) / 171) + 40 * ((x // 200 + y // 200) % 2)
    blue = 100 + 60 * np.cos(x / 300) + 30 * np.sin(y / 23)
    array = np.stack([red, green, blue], -1) + rng.normal(0, 3, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def psnr(a: Any, b: Any) -> float:
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mse = float(np.mean(diff**2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def cpu(call: Callable[[], object]) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def pillow_only(data: bytes) -> object:
    """``prepare_image`` with the fast path unavailable (as in a forked child)."""
    load = _jpegshrink._load
    _jpegshrink._load = lambda: None  # type: ignore[assignment]
    try:
        return prepare_image(data, profile=PROFILE)
    finally:
        _jpegshrink._load = load  # type: ignore[assignment]


def with_block_cache(data: bytes) -> float:
    _core.set_blocks_max(4)
    try:
        pillow_only(data)  # warm: the cache holds the blocks of one call
        return cpu(lambda: pillow_only(data))
    finally:
        _core.set_blocks_max(0)


def downscale_sides(data: bytes, target: tuple[int, int]) -> dict[str, Callable[[], Any]]:
    """The options for a photo that needs a downscale: each returns the pixels before encoding
    when called with ``pixels=True``, else the encoded bytes."""
    import pyvips
    import simplejpeg

    width, height = Image.open(io.BytesIO(data)).size

    def vips_alone(pixels: bool = False) -> Any:
        image = pyvips.Image.jpegload_buffer(data, access="sequential", fail_on="warning")
        small = image.reduce(width / target[0], height / target[1], kernel="linear")
        return (
            small.numpy()
            if pixels
            else small.jpegsave_buffer(Q=90, subsample_mode="on", keep="none")
        )

    def thumbnail(pixels: bool = False) -> Any:
        small = pyvips.Image.thumbnail_buffer(data, target[0], height=target[1], size="force")
        return small.numpy() if pixels else small.jpegsave_buffer(Q=90, subsample_mode="on")

    def dct_scaled(pixels: bool = False) -> Any:
        decoded = simplejpeg.decode_jpeg(data, min_width=target[0], min_height=target[1])
        small = Image.fromarray(decoded).resize(target, Image.Resampling.BOX)
        if pixels:
            return small
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=90)
        return buffer.getvalue()

    return {"pyvips alone": vips_alone, "pyvips thumbnail": thumbnail,
            "simplejpeg M/8 + BOX": dct_scaled}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--sizes", nargs="*", choices=list(SIZES), default=list(SIZES), help="MP")
    ap.add_argument("--sides", nargs="*", help="only these sides (names as printed)")
    args = ap.parse_args()
    fast = _jpegshrink._load() is not None

    print(f"CPU ms per image, best of {args.runs} (range), interleaved; PSNR in dB")
    if not fast:
        print("(pyvips or simplejpeg not importable: prepare_image takes the Pillow path)")
    for label in args.sizes:
        width, height = SIZES[label]
        data = photo(width, height)
        target = prepare_image(data, profile=PROFILE).sent_size
        resized = target != (width, height)
        sides: dict[str, Callable[[], float]] = {
            "prepare_image": lambda data=data: cpu(lambda: prepare_image(data, profile=PROFILE)),
        }
        others: dict[str, Callable[[], Any]] = {}
        if resized:
            sides["Pillow"] = lambda data=data: cpu(lambda: pillow_only(data))
            sides["Pillow, block cache"] = lambda data=data: with_block_cache(data)
            if fast:
                others = downscale_sides(data, target)
                for side, call in others.items():
                    sides[side] = lambda call=call: cpu(call)
        else:
            sides["decode+encode"] = lambda data=data: cpu(
                lambda: prepare_image(load_image(data), profile=PROFILE)
            )
        if args.sides:
            sides = {side: measure for side, measure in sides.items() if side in args.sides}
        times: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(args.runs):
            for side, measure in sides.items():
                times[side].append(measure() * 1000)
        original = Image.open(io.BytesIO(data))
        original.load()
        if not resized:
            quality = {
                "prepare_image": psnr(
                    load_image(prepare_image(data, profile=PROFILE).url), original
                ),
                "decode+encode": psnr(
                    load_image(prepare_image(original, profile=PROFILE).url), original
                ),
            }
        else:
            reference = np.stack(
                [
                    np.asarray(band.convert("F").resize(target, Image.Resampling.LANCZOS))
                    for band in original.split()
                ],
                -1,
            )
            pillow = psnr(downscale(original, target), reference)
            quality = {"Pillow": pillow, "Pillow, block cache": pillow}
            small = _jpegshrink.reduced(data, original.mode, (width, height), target, 1)
            quality["prepare_image"] = psnr(small[0].numpy(), reference) if small else pillow
            for side, call in others.items():
                quality[side] = psnr(call(pixels=True), reference)
        megabytes = len(data) / 1e6
        print(f"{label} MP ({width}x{height}, {megabytes:.1f} MB) -> {target[0]}x{target[1]}:")
        for side, values in times.items():
            median = sorted(values)[len(values) // 2]
            print(f"  {side:21s} {min(values):7.1f} ms ({min(values):.1f}-{max(values):.1f}, "
                  f"median {median:.1f}), PSNR {quality[side]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
