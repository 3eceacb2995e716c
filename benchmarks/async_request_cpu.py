"""CPU time per async request against the loopback scripted server (fixture answers).

Prints whether ``sniffio`` is importable: httpcore retries a failing ``import sniffio`` about
ten times per request without it. To compare, run it, ``pip uninstall -y sniffio``, run it
again, ``pip install sniffio``; repeat once more so the two sides interleave.

    python benchmarks/async_request_cpu.py
"""

from __future__ import annotations

import asyncio
import importlib.util
import time

from PIL import Image

from grounding import AsyncClient
from grounding.testing import ScriptedServer, chat


async def run(n: int, url: str) -> None:
    async with AsyncClient("openai", base_url=url) as client:
        prepared = await client.prepare(Image.new("RGB", (64, 48)))
        await asyncio.gather(*(client.ask(prepared, f"x{i}") for i in range(n)))


def main() -> None:
    with ScriptedServer(chat("[[1,2,3,4]]")) as server:
        asyncio.run(run(20, server.url))
        times = []
        for _ in range(3):
            start = time.process_time()
            asyncio.run(run(300, server.url))
            times.append((time.process_time() - start) / 300 * 1e3)
    which = "with sniffio" if importlib.util.find_spec("sniffio") else "without sniffio"
    print(
        f"{which}: CPU ms/request (process, server thread included): best {min(times):.2f}, "
        f"spread {min(times):.2f}-{max(times):.2f}"
    )


if __name__ == "__main__":
    main()
