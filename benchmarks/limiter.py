"""The adaptive limit against a server that caps concurrency: ``python benchmarks/limiter.py``.

The labeling pipeline (``run_job``: prepare, request, parse, store) runs with ``-k 64``
against the loopback server (``benchmarks/loopback.py``, its own process) that serves 16
requests at a time for 0.5 s each and refuses any more at once with 429 code 1302. Capacity is
16 / 0.5 s = 32 images/s.

1. Steady limit: goodput as a share of capacity (target at least 95%) and the share of
   requests refused (target at most 2%). The halving limit this replaced runs interleaved
   with it, as the baseline.
2. A changing limit: 16, then 4, then 16 again. How many round-trips (0.5 s) after each change
   until the limit is within 10% of the new capacity (target: five), and the server's own
   count of requests served at once over each phase.

The images are small generated pictures and the answers are fixtures, not model output.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.loopback import Loopback
from grounding import AsyncClient
from grounding.errors import APIError, RateLimitError
from grounding.labeling import JobStore, LabelJob, find_images, register, run_job
from grounding.labeling.limiter import AdaptiveLimit

LATENCY, CAPACITY, CONCURRENCY = 0.5, 16, 64


class HalvingLimit(AdaptiveLimit):
    """The limit before this one, for comparison: all of ``-k`` at once, halved on every
    rate limit, one more after ``2 x limit`` successes in a row."""

    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.limit = self.cap
        self.streak = 0

    def slow_down(self) -> bool:
        self.rate_limited += 1
        self.limit = max(1, self.limit // 2)
        self.streak = 0
        return False  # as before: the runner pauses

    def on_retry(self, error: APIError) -> None:
        if isinstance(error, RateLimitError):
            self.slow_down()

    def success(self, *, cached: bool = False) -> None:
        self.streak += 1
        if self.limit < self.cap and self.streak >= 2 * self.limit:
            self.limit += 1
            self.streak = 0


def make_images(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        colour = (i % 256, (i // 256) % 256, (i * 7) % 256)
        Image.new("RGB", (96, 64), colour).save(root / f"{i:06d}.jpg", quality=90)


async def label(url: str, root: Path, store_path: Path, limit: AdaptiveLimit) -> tuple[int, float]:
    async with AsyncClient(
        "openai", base_url=url, max_connections=CONCURRENCY, on_retry=limit.on_retry
    ) as client:
        with JobStore(store_path) as store:
            register(store, find_images([str(root)]), None)
            job = LabelJob(classes=["scratch", "dent"], model="glm-4.5v", prompt="find {classes}")
            start = time.perf_counter()
            stats = await run_job(job, store, client, limit)
            return stats.done, time.perf_counter() - start


def steady(root: Path, work: Path, kind: type[AdaptiveLimit], run: int) -> dict[str, float]:
    with Loopback(latency=LATENCY, limit=CAPACITY) as server:
        limit = kind(CONCURRENCY)
        done, elapsed = asyncio.run(
            label(server.url, root, work / f"{kind.__name__}{run}.sqlite", limit)
        )
        counts = server.stats()
    sent = counts["accepted"] + counts["rejected"]
    served = _mean_serving(counts["timeline"], 5 * LATENCY, elapsed - 2 * LATENCY)
    return {
        "served": served,
        "goodput": done / elapsed / (CAPACITY / LATENCY),
        "refused": counts["rejected"] / sent,
        "wasted_per_1000": counts["rejected"] / done * 1000,
    }


def changing(
    root: Path, work: Path, phases: list[tuple[int, float]], run: int
) -> list[dict[str, Any]]:
    """Run the pipeline while the server's limit follows ``phases`` (limit, seconds)."""
    samples: list[tuple[float, int]] = []
    with Loopback(latency=LATENCY, limit=phases[0][0]) as server:
        limit = AdaptiveLimit(CONCURRENCY)
        begin = time.monotonic()
        finished = threading.Event()

        def schedule() -> None:
            elapsed = 0.0
            for index in range(1, len(phases)):
                elapsed += phases[index - 1][1]
                if finished.wait(max(0.0, begin + elapsed - time.monotonic())):
                    return
                server.set_limit(phases[index][0])

        def sample() -> None:
            while not finished.wait(0.02):
                samples.append((time.monotonic() - begin, limit.limit))

        threads = [threading.Thread(target=schedule), threading.Thread(target=sample)]
        server.stats(reset=True)
        for thread in threads:
            thread.start()
        try:
            asyncio.run(label(server.url, root, work / f"changing{run}.sqlite", limit))
        finally:
            finished.set()
            for thread in threads:
                thread.join()
        counts = server.stats()
        timeline = counts["timeline"]
    report: list[dict[str, Any]] = [
        {"refused": counts["rejected"] / max(1, counts["accepted"] + counts["rejected"])}
    ]
    start = 0.0
    for capacity, seconds in phases:
        end = start + seconds
        inside = [
            t
            for t, value in samples
            if start <= t < end and abs(value - capacity) <= 0.1 * capacity
        ]
        settled = next(
            (
                t
                for t in inside
                if all(
                    abs(v - capacity) <= 0.1 * capacity or v == capacity + 1
                    for s, v in samples
                    if t <= s < end
                )
            ),
            None,
        )
        report.append(
            {
                "capacity": capacity,
                "round_trips": None if settled is None else (settled - start) / LATENCY,
                "served": _mean_serving(timeline, start + 5 * LATENCY, end),
            }
        )
        start = end
    return report


def _mean_serving(timeline: list[tuple[float, int]], start: float, end: float) -> float:
    """Time-weighted mean of requests being served between ``start`` and ``end``."""
    total, last_t, last_v = 0.0, start, 0
    for t, v in timeline:
        if t <= start:
            last_v = v
            continue
        if t >= end:
            break
        total += (t - last_t) * last_v
        last_t, last_v = t, v
    total += (end - last_t) * last_v
    return total / (end - start) if end > start else 0.0


def run_steady(work: Path, images: int, runs: int) -> None:
    make_images(work / "images", images)
    results: dict[str, list[dict[str, float]]] = {"AdaptiveLimit": [], "HalvingLimit": []}
    for run in range(runs):  # interleaved: new, old, new, old...
        for kind in (AdaptiveLimit, HalvingLimit):
            results[kind.__name__].append(steady(work / "images", work, kind, run))
            r = results[kind.__name__][-1]
            print(f"  run {run + 1} {kind.__name__:13s} goodput {r['goodput']:.1%}, "
                  f"refused {r['refused']:.2%} ({r['wasted_per_1000']:.0f} per 1,000 images), "
                  f"served {r['served']:.1f} at once", flush=True)  # fmt: skip
    print(f"steady limit {CAPACITY}, {LATENCY} s, -k {CONCURRENCY}, {images:,} images, "
          f"best of {runs} (range):")  # fmt: skip
    for name, rows in results.items():
        for key, best in (("goodput", max), ("refused", min), ("served", max)):
            values = [r[key] for r in rows]
            shown = [
                f"{v:.1f}" if key == "served" else f"{v:.2%}"
                for v in (best(values), min(values), max(values))
            ]
            print(f"  {name:13s} {key} best {shown[0]} ({shown[1]} to {shown[2]})")


def run_changing(work: Path, runs: int) -> None:
    phases = [(16, 6.0), (4, 8.0), (16, 8.0)]
    make_images(work / "changing", int(sum(c / LATENCY * s for c, s in phases) * 1.1))
    print(f"changing limit {' -> '.join(f'{c} ({s:.0f} s)' for c, s in phases)}, -k {CONCURRENCY}:")
    rounds: list[list[float]] = [[] for _ in phases]
    for run in range(runs):
        whole, *report = changing(work / "changing", work, phases, run)
        parts = []
        for i, p in enumerate(report):
            settled = "never" if p["round_trips"] is None else f"{p['round_trips']:.1f}"
            parts.append(f"limit {p['capacity']}: settled after {settled} round-trips, "
                         f"served {p['served']:.1f} at once")  # fmt: skip
            if p["round_trips"] is not None:
                rounds[i].append(p["round_trips"])
        print(f"  run {run + 1}: " + "; ".join(parts) + f"; refused {whole['refused']:.1%} of "
              "all requests", flush=True)  # fmt: skip
    for i, (capacity, _) in enumerate(phases[1:], start=1):
        if rounds[i]:
            print(
                f"  after the change to {capacity}: median {statistics.median(rounds[i]):.1f}, "
                f"worst {max(rounds[i]):.1f} round-trips ({len(rounds[i])} of {runs} settled)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["steady", "changing"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.only != "changing":
            run_steady(Path(folder), args.images, args.runs)
        if args.only != "steady":
            run_changing(Path(folder), args.runs)


if __name__ == "__main__":
    main()
