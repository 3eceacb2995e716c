"""Labeling throughput and memory. Run by hand: ``python benchmarks/label_throughput.py``.

1. 2,000 images through the labeling pipeline (find, prepare, request, parse, store) against
   the loopback scripted server answering after 0.5 s, at concurrency 32: images per second
   against the ideal (concurrency / latency = 64/s; target at least 85%), beside a
   one-image-at-a-time loop (``Client.detect`` per image) in the same run.
2. Peak RSS of ``grounding label`` (a fresh process, zero latency, concurrency 32) at 2,000
   and at 20,000 images (target: flat, within 20%).

The images are small generated pictures and the answers are fixtures, not model output.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding import AsyncClient, Client
from grounding.labeling import AdaptiveLimit, JobStore, LabelJob, find_images, register, run_job
from tests.server import ScriptedServer, chat

ANSWER = (
    '[{"label": "scratch", "bbox_2d": [100,100,400,400]}, '
    '{"label": "dent", "bbox_2d": [500,500,700,800]}]'
)


def make_images(root: Path, n: int) -> None:
    for i in range(n):
        folder = root / f"batch{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        colour = (i % 256, (i // 256) % 256, (i * 7) % 256)
        Image.new("RGB", (96, 64), colour).save(folder / f"{i:06d}.jpg", quality=90)


async def pipeline(url: str, root: Path, store_path: Path, concurrency: int) -> float:
    limit = AdaptiveLimit(concurrency)
    async with AsyncClient(
        "openai", base_url=url, max_connections=concurrency, on_retry=limit.on_retry
    ) as client:
        with JobStore(store_path) as store:
            register(store, find_images([str(root)]), None)
            job = LabelJob(classes=["scratch", "dent"], model="glm-4.5v", prompt="find {classes}")
            start = time.perf_counter()
            stats = await run_job(job, store, client, limit)
            elapsed = time.perf_counter() - start
            assert stats.done == store.counts().get("done"), store.counts()
            return stats.done / elapsed


def one_at_a_time(url: str, root: Path, n: int) -> float:
    paths = [item.source for _, item in zip(range(n), find_images([str(root)]), strict=False)]
    with Client("openai", base_url=url) as client:
        start = time.perf_counter()
        for path in paths:
            client.detect(path, ["scratch", "dent"])
        return len(paths) / (time.perf_counter() - start)


RSS_PROBE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mb(url: str, root: Path, out: Path) -> tuple[float, float]:
    command = [
        sys.executable,
        "-m",
        "grounding",
        "label",
        str(root),
        "--classes",
        "scratch,dent",
        "--out",
        str(out),
        "--base-url",
        url,
        "-k",
        "32",
        "--no-cache",
        "-f",
        "coco",
    ]
    start = time.perf_counter()
    probe = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, *command], capture_output=True, text=True, check=True
    )
    return int(probe.stdout.strip()) / 1024, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--big", type=int, default=20000, help="images for the second RSS point")
    ap.add_argument("--sequential", type=int, default=40, help="images for the one-at-a-time loop")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        small = work / "small"
        make_images(small, args.images)
        with ScriptedServer(chat(ANSWER, delay=0.5)) as server:
            rate = asyncio.run(pipeline(server.url, small, work / "t.sqlite", 32))
            sequential = one_at_a_time(server.url, small, args.sequential)
        ideal = 32 / 0.5
        print(
            f"{args.images:,} images, 0.5 s latency, concurrency 32: {rate:.1f} images/s = "
            f"{rate / ideal:.0%} of the ideal {ideal:.0f}/s; "
            f"one at a time: {sequential:.2f} images/s ({rate / sequential:.0f}x slower)"
        )

        big = work / "big"
        make_images(big, args.big)
        with ScriptedServer(chat(ANSWER)) as server:
            rss_small, t_small = peak_rss_mb(server.url, small, work / "out-small")
            rss_big, t_big = peak_rss_mb(server.url, big, work / "out-big")
        print(
            f"peak RSS of grounding label: {rss_small:.0f} MB at {args.images:,} images "
            f"({t_small:.0f} s), {rss_big:.0f} MB at {args.big:,} images ({t_big:.0f} s): "
            f"{rss_big / rss_small - 1:+.1%}"
        )


if __name__ == "__main__":
    main()
