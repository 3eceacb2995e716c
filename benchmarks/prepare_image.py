"""CPU time to prepare one photo for GLM: ``python benchmarks/prepare_image.py``.

Photos of 2, 5, 12 and 24 MP (camera-like JPEGs, quality 92, generated), prepared for
``glm-4.5v`` (at most about 5.9 MP sent). Sides, interleaved call by call, CPU time of the
process (all threads) per image, best of ``--runs`` with the range:

- ``prepare_image``: what the toolkit does now (the file's own bytes when nothing needs
  changing; else decode, area-averaging downscale, JPEG 90);
- ``decode+encode``: what it did before for every image (``prepare_image(load_image(...))``);
- ``pyvips``: ``thumbnail_buffer`` + ``jpegsave_buffer(Q=90)``, when pyvips is installed
  (``pip install pyvips-binary pyvips``), for the images that need a downscale.

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
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding import get_profile, load_image, prepare_image
from grounding.images import _resize

SIZES = {"2 MP": (1632, 1224), "5 MP": (2448, 2048), "12 MP": (4000, 3000), "24 MP": (6000, 4000)}
PROFILE = get_profile("glm-4.5v")


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


def cpu(call: Any) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    try:
        import pyvips
    except (ImportError, OSError):
        pyvips = None

    print(f"CPU ms per image, best of {args.runs} (range), interleaved; PSNR in dB")
    for label, (width, height) in SIZES.items():
        data = photo(width, height)
        target = prepare_image(data, profile=PROFILE).sent_size
        sides: dict[str, Any] = {
            "prepare_image": lambda data=data: prepare_image(data, profile=PROFILE),
            "decode+encode": lambda data=data: prepare_image(load_image(data), profile=PROFILE),
        }
        if pyvips is not None and target != (width, height):
            sides["pyvips"] = lambda data=data, target=target: pyvips.Image.thumbnail_buffer(
                data, target[0], height=target[1], size="force"
            ).jpegsave_buffer(Q=90)
        times: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(args.runs):
            for side, call in sides.items():
                times[side].append(cpu(call) * 1000)
        original = Image.open(io.BytesIO(data))
        original.load()
        if target == (width, height):
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
            quality = {"prepare_image": psnr(_resize(original, target), reference)}
            quality["decode+encode"] = quality["prepare_image"]
            if "pyvips" in sides:
                vips = pyvips.Image.thumbnail_buffer(
                    data, target[0], height=target[1], size="force"
                )
                quality["pyvips"] = psnr(vips.numpy(), reference)
        print(f"{label} ({width}x{height}, {len(data) / 1e6:.1f} MB) -> {target[0]}x{target[1]}:")
        for side, values in times.items():
            print(f"  {side:14s} {min(values):7.1f} ms ({min(values):.1f}-{max(values):.1f}), "
                  f"PSNR {quality[side]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
