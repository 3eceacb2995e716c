"""Client overhead against a loopback server: ``python benchmarks/client_overhead.py``.

``grounding.AsyncClient.complete`` beside plain ``httpx.AsyncClient`` posting the same payloads
(a small ``data:`` image and a prompt) at concurrency 1, 16 and 64 to ``benchmarks/loopback.py``
(an asyncio server in its own process, so its CPU is not the client's):

1. Zero latency: CPU time of the client's process per request (after one request per
   connection to open them). Target: within 10% of plain httpx. Wall-clock requests/s are not
   the measure here: at zero latency they mostly measure the server and the other processes
   on the machine.
2. 1 s latency: requests/s over ``--trips`` round-trips of ``concurrency`` requests, connection
   opening included (wall time: the question is throughput). Target: at least 90% of
   concurrency / latency.

The two sides run one after the other for each setting, every round (``--rounds``), the order
reversed every other round; reported: best of the rounds with the range, the ratio of the
bests and the range of the per-round ratios. Preparing big photos is measured by
``benchmarks/prepare_image.py``.

The server's answers are fixtures, not model output.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.loopback import Loopback
from benchmarks.request_path import messages as payload
from grounding import AsyncClient
from grounding.client import RetryPolicy

SIDES = ("grounding", "httpx")
CONCURRENCIES = (1, 16, 64)


async def run_side(
    side: str, url: str, warm: list[Any], timed: list[Any], concurrency: int
) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for the ``timed`` requests, after the ``warm`` ones."""
    if side == "grounding":
        async with AsyncClient(
            "openai", base_url=url, max_connections=concurrency, retry=RetryPolicy(max_retries=0)
        ) as client:

            async def ours(m: list[dict[str, Any]]) -> None:
                await client.complete(m, model="glm-4.5v", use_cache=False)

            return await _timed(ours, warm, timed, concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as plain:

        async def theirs(m: list[dict[str, Any]]) -> None:
            body = {"model": "glm-4.5v", "messages": m, "stream": False, "max_tokens": 4096,
                    "chat_template_kwargs": {"enable_thinking": False}}  # fmt: skip
            reply = await plain.post("/chat/completions", json=body)
            reply.raise_for_status()
            reply.json()

        return await _timed(theirs, warm, timed, concurrency)


async def _timed(
    one: Callable[[Any], Awaitable[None]], warm: list[Any], timed: list[Any], concurrency: int
) -> tuple[float, float]:
    async def drain(items: Any) -> None:
        for m in items:
            await one(m)

    first = iter(warm)
    await asyncio.gather(*(drain(first) for _ in range(concurrency)))
    rest = iter(timed)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(drain(rest) for _ in range(concurrency)))
    return time.process_time() - cpu, time.perf_counter() - wall


def _range(values: list[float], digits: int = 2) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def zero_latency(messages: list[Any], requests: int, rounds: int) -> None:
    per_request: dict[tuple[int, str], list[float]] = {
        (c, side): [] for c in CONCURRENCIES for side in SIDES
    }
    with Loopback() as server:
        for round_ in range(rounds):
            for concurrency in CONCURRENCIES:
                warm, timed = messages[:concurrency], messages[concurrency : concurrency + requests]
                for side in SIDES if round_ % 2 == 0 else SIDES[::-1]:
                    cpu, _ = asyncio.run(run_side(side, server.url, warm, timed, concurrency))
                    per_request[(concurrency, side)].append(cpu / len(timed) * 1000)
            shown = ", ".join(
                f"c{c} {per_request[(c, 'grounding')][-1]:.2f}/{per_request[(c, 'httpx')][-1]:.2f}"
                for c in CONCURRENCIES
            )
            print(f"  round {round_ + 1}: grounding/httpx ms per request: {shown}", flush=True)
    print(f"zero latency, CPU per request, {requests:,} requests, best of {rounds} (range); "
          "grounding / httpx: ratio of bests (per-round range):")  # fmt: skip
    for concurrency in CONCURRENCIES:
        ours, plain = per_request[(concurrency, "grounding")], per_request[(concurrency, "httpx")]
        ratios = [a / b for a, b in zip(ours, plain, strict=True)]
        ratio = min(ours) / min(plain)
        verdict = "met" if ratio <= 1.10 else "missed"
        print(f"  concurrency {concurrency:2d}: grounding {min(ours):.3f} ms ({_range(ours, 3)}), "
              f"httpx {min(plain):.3f} ms ({_range(plain, 3)}) -> {ratio:.2f} "
              f"({_range(ratios)}); target within 10% of httpx: {verdict}")  # fmt: skip


def one_second(messages: list[Any], trips: int, rounds: int) -> None:
    rate: dict[tuple[int, str], list[float]] = {
        (c, side): [] for c in CONCURRENCIES for side in SIDES
    }
    with Loopback(latency=1.0) as server:
        for round_ in range(rounds):
            for concurrency in CONCURRENCIES:
                timed = messages[: concurrency * trips]
                for side in SIDES if round_ % 2 == 0 else SIDES[::-1]:
                    _, wall = asyncio.run(run_side(side, server.url, [], timed, concurrency))
                    rate[(concurrency, side)].append(len(timed) / wall)
            shown = ", ".join(
                f"c{c} {rate[(c, 'grounding')][-1]:.1f}/{rate[(c, 'httpx')][-1]:.1f}"
                for c in CONCURRENCIES
            )
            print(f"  round {round_ + 1}: grounding/httpx requests/s: {shown}", flush=True)
    print(f"1 s latency, requests/s over {trips} round-trips (connections opened in the "
          f"first), best of {rounds} (range); grounding / httpx: ratio of bests "
          "(per-round range):")  # fmt: skip
    for concurrency in CONCURRENCIES:
        ours, plain = rate[(concurrency, "grounding")], rate[(concurrency, "httpx")]
        ratios = [a / b for a, b in zip(ours, plain, strict=True)]
        ideal = concurrency / 1.0
        share = max(ours) / ideal
        verdict = "met" if share >= 0.9 else "missed"
        print(f"  concurrency {concurrency:2d}: grounding {max(ours):.1f}/s ({_range(ours, 1)}), "
              f"httpx {max(plain):.1f}/s ({_range(plain, 1)}) -> {max(ours) / max(plain):.2f} "
              f"({_range(ratios)}); {share:.0%} of the ideal {ideal:.0f}/s "
              f"(target 90%: {verdict})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=800, help="timed requests per zero-latency run")
    ap.add_argument("--trips", type=int, default=4, help="round-trips per 1 s latency run")
    ap.add_argument("--rounds", type=int, default=5, help="rounds; each side once per setting")
    ap.add_argument("--only", choices=("zero", "latency"), help="run one part only")
    args = ap.parse_args()

    count = max(args.requests + max(CONCURRENCIES), max(CONCURRENCIES) * args.trips)
    messages = [payload(i) for i in range(count)]
    if args.only != "latency":
        zero_latency(messages, args.requests, args.rounds)
    if args.only != "zero":
        one_second(messages, args.trips, args.rounds)


if __name__ == "__main__":
    main()
