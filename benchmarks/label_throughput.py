"""Labeling throughput and memory. Run by hand: ``python benchmarks/label_throughput.py``.

1. 2,000 images through the labeling pipeline (find, prepare, request, parse, store) against
   the loopback scripted server answering after 0.5 s, at concurrency 32: images per second
   against the ideal (concurrency / latency = 64/s; target at least 85%), beside a
   one-image-at-a-time loop (``Client.detect`` per image) in the same run.
2. Peak RSS of ``grounding label`` (a fresh process, zero latency, concurrency 32) at 2,000
   and at 20,000 images (target: flat, within 20%).
3. With ``--ray`` instead: the Ray engine (2 actors sharing 16 requests in flight) against
   ``grounding label -k 16`` on the same server answering after 0.3 s, on a local 2-CPU Ray
   cluster: images per second (first to last finished image, interleaved rounds, best and
   spread), CPU seconds per 100 images (driver plus actors), and peak memory of a full
   ``grounding label`` run of each (for Ray: the driver plus the actors; the cluster's own
   daemons apart). Target: Ray at least 80% of the single-process rate.

The images are small generated pictures and the answers are fixtures, not model output.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding import AsyncClient, Client
from grounding.labeling import (
    AdaptiveLimit,
    JobStats,
    JobStore,
    LabelJob,
    find_images,
    register,
    run_job,
)
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


def _proc_stats(marker: str) -> dict[int, tuple[float, float]]:
    """pid -> (RSS MB, CPU seconds) of the processes whose command line contains ``marker``."""
    found = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if marker not in cmdline:
                continue
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            rss = next(
                int(line.split()[1]) / 1024
                for line in Path(f"/proc/{entry}/status").read_text().splitlines()
                if line.startswith("VmRSS:")
            )
        except (OSError, StopIteration, IndexError):
            continue
        found[int(entry)] = (rss, (int(fields[11]) + int(fields[12])) / tick)
    return found


class _ActorSampler:
    """Peak summed RSS and total CPU time of the labeling actors (``ray::MapWorker`` and the
    coordinator), sampled from /proc every 0.2 s while a run lasts."""

    def __init__(self) -> None:
        self.peak_mb, self.cpu = 0.0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            seen = {**_proc_stats("ray::MapWorker"), **_proc_stats("ray::Coordinator")}
            self.peak_mb = max(self.peak_mb, sum(rss for rss, _ in seen.values()))
            self.cpu.update({pid: cpu for pid, (_, cpu) in seen.items()})

    def __enter__(self) -> _ActorSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def mark(marks: list[tuple[float, int]], start: float, stats: JobStats) -> None:
    marks.append((time.perf_counter() - start, stats.finished))


def _rate(marks: list[tuple[float, int]]) -> float:
    """Images per second from the first finished image to the last."""
    moved = [(t, n) for t, n in marks if n > 0]
    (t0, n0), (t1, n1) = moved[0], moved[-1]
    return (n1 - n0) / max(t1 - t0, 1e-9)


def _local_round(url: str, root: Path, store_path: Path, k: int) -> tuple[float, float]:
    marks: list[tuple[float, int]] = []
    start, cpu = time.perf_counter(), time.process_time()

    async def go() -> None:
        limit = AdaptiveLimit(k)
        async with AsyncClient(
            "openai", base_url=url, max_connections=k, on_retry=limit.on_retry
        ) as client:
            with JobStore(store_path) as store:
                register(store, find_images([str(root)]), None)
                job = LabelJob(
                    classes=["scratch", "dent"], model="glm-4.5v", prompt="find", concurrency=k
                )
                await run_job(job, store, client, limit, lambda s: mark(marks, start, s))

    asyncio.run(go())
    return _rate(marks), time.process_time() - cpu


def _ray_round(url: str, root: Path, store_path: Path, k: int) -> tuple[float, float]:
    from grounding.labeling.ray import run_ray_job

    marks: list[tuple[float, int]] = []
    with JobStore(store_path) as store, _ActorSampler() as actors:
        register(store, find_images([str(root)]), None)
        job = LabelJob(classes=["scratch", "dent"], model="glm-4.5v", prompt="find", concurrency=k)
        start, cpu = time.perf_counter(), time.process_time()
        client = {"provider": "openai", "base_url": url, "cache": False}
        run_ray_job(job, store, client, actors=2, on_progress=lambda s: mark(marks, start, s))
        cpu = time.process_time() - cpu
    return _rate(marks), cpu + sum(actors.cpu.values())


def _cli_peak(url: str, root: Path, out: Path, extra: list[str]) -> tuple[float, float, float]:
    """Peak RSS (MB) of a ``grounding label`` process and of its actors, and its seconds."""
    command = [sys.executable, "-m", "grounding", "label", str(root), "--classes", "scratch",
               "--out", str(out), "--base-url", url, "-k", "16", "--no-cache", *extra]  # fmt: skip
    with _ActorSampler() as actors:
        start = time.perf_counter()
        probe = subprocess.run([sys.executable, "-c", RSS_PROBE, *command], capture_output=True,
                               text=True, check=True)  # fmt: skip
        seconds = time.perf_counter() - start
    return int(probe.stdout.strip()) / 1024, actors.peak_mb, seconds


def _spread(values: list[float]) -> str:
    return f"best {max(values):.1f}, spread {min(values):.1f}-{max(values):.1f}"


def compare_ray(n: int, rounds: int) -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    address = ray.get_runtime_context().gcs_address
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        make_images(work / "images", n)
        local: list[tuple[float, float]] = []
        remote: list[tuple[float, float]] = []
        with ScriptedServer(chat(ANSWER, delay=0.3)) as server:
            for r in range(rounds):  # interleaved, so both sides see the same machine load
                local.append(_local_round(server.url, work / "images", work / f"l{r}.sqlite", 16))
                remote.append(_ray_round(server.url, work / "images", work / f"r{r}.sqlite", 16))
                print(f"round {r + 1}: local {local[-1][0]:.1f}/s, ray {remote[-1][0]:.1f}/s")
            rss_local, _, t_local = _cli_peak(server.url, work / "images", work / "cl", [])
            rss_driver, rss_actors, t_ray = _cli_peak(
                server.url, work / "images", work / "cr",
                ["--engine", "ray", "--ray-address", address, "--ray-actors", "2"],
            )  # fmt: skip
    ray.shutdown()
    best_local = max(rate for rate, _ in local)
    best_ray = max(rate for rate, _ in remote)
    cpu_local = min(cpu for _, cpu in local) / n * 100
    cpu_ray = min(cpu for _, cpu in remote) / n * 100
    print(
        f"{n:,} images, 0.3 s latency, 16 in flight (ideal {16 / 0.3:.1f}/s):\n"
        f"  grounding label -k 16: {_spread([r for r, _ in local])} images/s, "
        f"{cpu_local:.2f} CPU s per 100 images\n"
        f"  Ray, 2 actors x 8:     {_spread([r for r, _ in remote])} images/s "
        f"({best_ray / best_local:.0%} of local), {cpu_ray:.2f} CPU s per 100 images\n"
        f"  whole command: local {t_local:.0f} s, peak {rss_local:.0f} MB; "
        f"ray {t_ray:.0f} s, peak {rss_driver:.0f} MB driver + {rss_actors:.0f} MB actors"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--big", type=int, default=20000, help="images for the second RSS point")
    ap.add_argument("--sequential", type=int, default=40, help="images for the one-at-a-time loop")
    ap.add_argument("--ray", action="store_true", help="compare the Ray engine (section 3)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds with --ray")
    args = ap.parse_args()
    if args.ray:
        compare_ray(args.images, args.rounds)
        return

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
