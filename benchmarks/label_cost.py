"""CPU and memory of labeling: ``python benchmarks/label_cost.py``.

1. Pipeline CPU per image (``run_job``: find, prepare, request, parse, store) for 640x480
   JPEGs against the loopback server at zero latency (``benchmarks/loopback.py``, its own
   process), concurrency 32; each side in its own process, interleaved, best of ``--runs``:
   ``before`` (httpx's own transport, one pool of 32 connections, sniffio hidden as when it was
   not installed), ``split pool`` (the step before this one: httpx's own transport with
   sniffio, pools of 8) and ``now`` (the client as configured: httpx over aiohttp). Each side
   runs the pipeline as it is now otherwise (request bodies, images read on the event loop).
   Target 1.5 ms.
2. Peak RSS of ``grounding label`` (a fresh process) on 64 photos of 12 MP, ``-k 32``, the
   server answering after 0.5 s so that 32 requests are in flight. Target 1 GB.
3. Peak RSS of ``grounding label`` on eight 12000x12000 PNGs (144 MP each, under the 150 MP
   guard), ``-k 8``: bounded by the decode budget (``DECODE_BUDGET_PIXELS``).

The images are generated and the answers are fixtures, not model output.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.loopback import Loopback

RSS_PROBE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def camera_like(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            128 + 90 * np.sin(x / 97 + seed),
            128 + 80 * np.sin((x + y) / 171),
            100 + 60 * np.cos(y / 61),
        ],
        -1,
    )
    return Image.fromarray(np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8))


def child_pipeline(side: str, url: str, root: str, store: str) -> None:
    import httpx

    from benchmarks.request_path import SplitPool, _HideSniffio
    from grounding import AsyncClient
    from grounding.labeling import JobStore, LabelJob, find_images, register, run_job
    from grounding.labeling.limiter import AdaptiveLimit

    if side == "before":
        sys.meta_path.insert(0, _HideSniffio)
        sys.modules.pop("sniffio", None)

    async def go() -> tuple[int, float]:
        limit = AdaptiveLimit(32)
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        transport: httpx.AsyncBaseTransport | None = None
        if side == "before":
            transport = httpx.AsyncHTTPTransport(limits=limits)
        elif side == "split pool":
            transport = SplitPool(32)
        async with AsyncClient(
            "openai", base_url=url, max_connections=32, on_retry=limit.on_retry, transport=transport
        ) as client:
            with JobStore(Path(store)) as jobs:
                register(jobs, find_images([root]), None)
                job = LabelJob(
                    classes=["scratch", "dent"], model="glm-4.5v", prompt="find {classes}"
                )
                start = time.process_time()
                stats = await run_job(job, jobs, client, limit)
                return stats.done, time.process_time() - start

    done, seconds = asyncio.run(go())
    print(seconds / done * 1000)


def peak_rss_mb(url: str, root: Path, out: Path, concurrency: int) -> float:
    command = [sys.executable, "-m", "grounding", "label", str(root), "--classes", "scratch,dent",
               "--out", str(out), "--base-url", url, "-k", str(concurrency), "--no-cache",
               "-f", "coco"]  # fmt: skip
    probe = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, *command], capture_output=True, text=True, check=True
    )
    return int(probe.stdout.strip()) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000, help="640x480 images for the CPU part")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["cpu", "memory"])
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_pipeline(*args.child)
        return

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if args.only != "memory":
            small = work / "small"
            small.mkdir()
            for i in range(args.images):
                camera_like(640, 480, i).save(small / f"{i:05d}.jpg", quality=90)
            sides = ["before", "split pool", "now"]
            per_image: dict[str, list[float]] = {side: [] for side in sides}
            with Loopback() as server:
                for run in range(args.runs):
                    for side in sides:
                        store = work / f"{side}{run}.sqlite".replace(" ", "_")
                        command = [sys.executable, __file__, "--child", side, server.url,
                                   str(small), str(store)]  # fmt: skip
                        out = subprocess.run(command, capture_output=True, text=True, check=True)
                        per_image[side].append(float(out.stdout))
                    shown = ", ".join(f"{s} {per_image[s][-1]:.2f} ms" for s in sides)
                    print(f"  run {run + 1}: {shown}", flush=True)
            print(f"pipeline CPU per 640x480 image, zero latency, -k 32, {args.images:,} images, "
                  f"best of {args.runs} (range):")  # fmt: skip
            for side in sides:
                values = per_image[side]
                print(f"  {side:16s} {min(values):.2f} ms ({min(values):.2f}-{max(values):.2f})")
        if args.only == "cpu":
            return

        photos = work / "photos"
        photos.mkdir()
        base = camera_like(4000, 3000, 0)
        for i in range(64):
            base.putpixel((i, 0), (i, i, i))
            base.save(photos / f"{i:03d}.jpg", quality=92)
        with Loopback(latency=0.5) as server:
            rss = peak_rss_mb(server.url, photos, work / "out-photos", 32)
        size = sum(p.stat().st_size for p in photos.iterdir()) / 64 / 1e6
        print(f"peak RSS of grounding label, 64 photos 4000x3000 ({size:.1f} MB each), -k 32, "
              f"0.5 s latency: {rss:.0f} MB")  # fmt: skip

        huge = work / "huge"
        huge.mkdir()
        side = np.arange(12000)
        for i in range(8):  # uint8 arithmetic wraps at 256: no int64 temporaries of 1 GB
            red = np.broadcast_to(((side + i) % 256).astype(np.uint8), (12000, 12000))
            green = np.broadcast_to(((side // 47) % 256).astype(np.uint8)[:, None], (12000, 12000))
            blue = ((side // 31) % 256).astype(np.uint8)[None, :] + ((side // 29) % 256).astype(
                np.uint8
            )[:, None]
            Image.fromarray(np.dstack([red, green, blue])).save(huge / f"{i}.png", compress_level=1)
        with Loopback() as server:
            rss = peak_rss_mb(server.url, huge, work / "out-huge", 8)
        print(f"peak RSS of grounding label, eight 12000x12000 PNGs, -k 8: {rss:.0f} MB")


if __name__ == "__main__":
    main()
