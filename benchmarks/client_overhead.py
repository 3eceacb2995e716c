"""Client overhead against the loopback scripted server: ``python benchmarks/client_overhead.py``.

1. Requests per second through ``grounding.AsyncClient.complete`` at concurrency 1, 16 and
   64, with zero latency and with 1 s latency, beside plain ``httpx.AsyncClient`` posting the
   same payloads in the same run. Targets: within 10% of plain httpx at zero latency; at 1 s
   latency at least 90% of concurrency / latency.
2. Time to prepare a 12 MP photo (decode, EXIF, downscale to GLM's 5.9 MP, JPEG encode);
   target under 150 ms.

The server's answers are fixtures, not model output.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding import AsyncClient, get_profile, prepare_image
from grounding.client import RetryPolicy
from tests.server import ScriptedServer, chat

ANSWER = "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"


def payload(i: int) -> list[dict]:
    image = Image.new("RGB", (64, 48), (i % 256, 0, 0))
    url = prepare_image(image).url
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": url}},
                {"type": "text", "text": f"Help me to locate object {i} in the image."},
            ],
        }
    ]


async def run_ours(url: str, messages: list, concurrency: int) -> float:
    async with AsyncClient(
        "openai", base_url=url, max_connections=concurrency, retry=RetryPolicy(max_retries=0)
    ) as client:
        queue = iter(messages)

        async def worker() -> None:
            for m in queue:
                await client.complete(m, model="glm-4.5v")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(messages) / (time.perf_counter() - start)


async def run_plain(url: str, messages: list, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:
        queue = iter(messages)

        async def worker() -> None:
            for m in queue:
                body = {"model": "glm-4.5v", "messages": m, "stream": False, "max_tokens": 4096,
                        "chat_template_kwargs": {"enable_thinking": False}}  # fmt: skip
                reply = await client.post("/chat/completions", json=body)
                reply.raise_for_status()
                reply.json()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(messages) / (time.perf_counter() - start)


def photo_12mp(path: Path) -> None:
    rng = np.random.default_rng(0)
    h, w = 3000, 4000
    y, x = np.mgrid[0:h, 0:w]
    array = np.stack([x * 255 / w, y * 255 / h, (x + y) % 256], -1).astype(np.uint8)
    array += rng.integers(0, 20, array.shape, dtype=np.uint8)
    Image.fromarray(array).save(path, quality=92)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=600, help="requests per zero-latency run")
    ap.add_argument(
        "--rounds",
        type=int,
        default=8,
        help="rounds per 1 s latency run (the first opens connections)",
    )
    args = ap.parse_args()

    print("requests/s, grounding.AsyncClient vs plain httpx.AsyncClient (same payloads, same run)")
    for latency in (0.0, 1.0):
        with ScriptedServer(chat(ANSWER, delay=latency)) as server:
            for concurrency in (1, 16, 64):
                n = args.requests if latency == 0 else concurrency * args.rounds
                if latency == 0 and concurrency == 1:
                    n = args.requests // 2
                messages = [payload(i) for i in range(n)]
                plain = asyncio.run(run_plain(server.url, messages, concurrency))
                ours = asyncio.run(run_ours(server.url, messages, concurrency))
                line = (
                    f"  latency {latency:.0f} s, concurrency {concurrency:2d}: "
                    f"grounding {ours:7.1f}/s, httpx {plain:7.1f}/s, ratio {ours / plain:.2f}"
                )
                if latency:
                    ideal = concurrency / latency
                    line += f", {ours / ideal:.0%} of the ideal {ideal:.0f}/s"
                print(line, flush=True)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        photo_12mp(path)
        profile = get_profile("glm-4.5v")
        times = []
        for _ in range(7):
            start = time.perf_counter()
            prepared = prepare_image(path, profile=profile)
            times.append(time.perf_counter() - start)
        size = io.BytesIO(path.read_bytes()).getbuffer().nbytes
        print(
            f"\nprepare a 12 MP photo ({size / 1e6:.1f} MB JPEG, 4000x3000 -> "
            f"{prepared.sent_size[0]}x{prepared.sent_size[1]}): median "
            f"{statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
