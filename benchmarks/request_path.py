"""CPU per request on the request path: ``python benchmarks/request_path.py``.

Each side runs in its own process and
sends the same requests (a small ``data:`` image and a prompt, a fixture completion back) at
concurrency 64 to the loopback server (``benchmarks/loopback.py``, zero latency, its own
process). Reported: the side's CPU time per request, best of ``--rounds`` with the range, the
sides interleaved round by round:

- ``one pool, no sniffio``: ``AsyncClient.complete`` as it was configured first: httpx's own
  transport, one pool of 64 connections, sniffio hidden as when it was not installed (httpcore
  then fails to import it on every pool operation);
- ``split pool``: the step before this one: httpx's own transport with sniffio, the pool split
  in pools of 8 connections (``SplitPool`` below; httpcore scans a whole pool per request);
- ``grounding``: ``AsyncClient.complete`` as configured now: httpx over aiohttp
  (``grounding.client._aiohttp.AiohttpTransport``);
- ``httpx``: plain ``httpx.AsyncClient``, one pool, sniffio importable, no grounding;
- ``aiohttp``: plain ``aiohttp.ClientSession`` (``TCPConnector(limit=64)``), the floor.

The server's answers are fixtures, not model output.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.machinery
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIDES = ["one pool, no sniffio", "split pool", "grounding", "httpx", "aiohttp"]
CONCURRENCY = 64


class _HideSniffio(importlib.machinery.PathFinder):
    """Search for sniffio as Python would, then say it is not there (as if not installed)."""

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> Any:
        if name == "sniffio":
            importlib.machinery.PathFinder.find_spec(name, path, target)
            raise ModuleNotFoundError("No module named 'sniffio'", name=name)
        return None


class SplitPool(httpx.AsyncBaseTransport):
    """httpx's own transport as pools of at most 8 connections, each request to the least
    busy (the client's default before the aiohttp transport)."""

    def __init__(self, max_connections: int, part: int = 8) -> None:
        count = max(1, -(-max_connections // part))
        limits = httpx.Limits(max_connections=part, max_keepalive_connections=part)
        self.parts = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(count)]
        self.busy = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self.busy.index(min(self.busy))
        self.busy[index] += 1
        try:
            return await self.parts[index].handle_async_request(request)
        finally:
            self.busy[index] -= 1

    async def aclose(self) -> None:
        for part in self.parts:
            await part.aclose()


def messages(i: int) -> list[dict[str, Any]]:
    from PIL import Image

    from grounding import prepare_image

    url = prepare_image(Image.new("RGB", (64, 48), (i % 256, 0, 0))).url
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": url}},
                {"type": "text", "text": f"Help me to locate object {i} in the image."},
            ],
        }
    ]


def body(m: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "glm-4.5v", "messages": m, "stream": False, "max_tokens": 4096,
            "chat_template_kwargs": {"enable_thinking": False}}  # fmt: skip


async def run_side(side: str, url: str, n: int) -> float:
    """CPU seconds for ``n`` requests (after 64 to open connections and warm up)."""
    payloads = [messages(i) for i in range(n + CONCURRENCY)]
    if side == "aiohttp":
        import aiohttp

        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONCURRENCY)
        ) as session:

            async def one(m: list[dict[str, Any]]) -> None:
                async with session.post(url + "/chat/completions", json=body(m)) as reply:
                    reply.raise_for_status()
                    json.loads(await reply.read())

            return await _timed(one, payloads)
    if side == "httpx":
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as plain:

            async def one(m: list[dict[str, Any]]) -> None:
                reply = await plain.post("/chat/completions", json=body(m))
                reply.raise_for_status()
                reply.json()

            return await _timed(one, payloads)
    from grounding import AsyncClient
    from grounding.client import RetryPolicy

    transport: httpx.AsyncBaseTransport | None = None
    if side.startswith("one pool"):
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        transport = httpx.AsyncHTTPTransport(limits=limits)
    elif side == "split pool":
        transport = SplitPool(CONCURRENCY)
    async with AsyncClient(
        "openai",
        base_url=url,
        max_connections=CONCURRENCY,
        retry=RetryPolicy(max_retries=0),
        transport=transport,
    ) as client:

        async def one(m: list[dict[str, Any]]) -> None:
            await client.complete(m, model="glm-4.5v", use_cache=False)

        return await _timed(one, payloads)


async def _timed(one: Any, payloads: list[Any]) -> float:
    async def drain(items: Any) -> None:
        for m in items:
            await one(m)

    warm = iter(payloads[:CONCURRENCY])
    await asyncio.gather(*(drain(warm) for _ in range(CONCURRENCY)))
    rest = iter(payloads[CONCURRENCY:])
    start = time.process_time()
    await asyncio.gather(*(drain(rest) for _ in range(CONCURRENCY)))
    return time.process_time() - start


def child(side: str, url: str, n: int) -> None:
    if side == "one pool, no sniffio":
        sys.meta_path.insert(0, _HideSniffio)
        sys.modules.pop("sniffio", None)
    else:
        import sniffio  # noqa: F401  (fails loudly when it is not installed)
    print(asyncio.run(run_side(side, url, n)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        child(args.side, args.url, args.requests)
        return

    from benchmarks.loopback import Loopback

    per_request: dict[str, list[float]] = {side: [] for side in SIDES}
    with Loopback() as server:
        for round_ in range(args.rounds):
            for side in SIDES:
                out = subprocess.run(
                    [sys.executable, __file__, "--side", side, "--url", server.url,
                     "--requests", str(args.requests)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                per_request[side].append(float(out.stdout) / args.requests * 1000)
            shown = ", ".join(f"{side} {per_request[side][-1]:.2f}" for side in SIDES)
            print(f"  round {round_ + 1}: {shown} ms", flush=True)
    base = min(per_request[SIDES[0]])
    print(f"\nCPU per request, concurrency {CONCURRENCY}, zero latency, "
          f"{args.requests:,} requests, best of {args.rounds} (range):")  # fmt: skip
    for side in SIDES:
        values = per_request[side]
        best = min(values)
        print(f"  {side:16s} {best:.3f} ms ({best:.3f}-{max(values):.3f}), "
              f"median {statistics.median(values):.3f}: {base / best:.2f}x cheaper")  # fmt: skip


if __name__ == "__main__":
    main()
