"""A lean OpenAI-compatible server on 127.0.0.1 for the benchmarks, in its own process.

Unlike ``tests/server.py`` (threads, one per connection, scripted replies) it is a single
asyncio loop in a child process, so its CPU time is not the client's and thousands of
requests per second cost it little. It answers every ``POST .../chat/completions`` with one
fixed completion after ``latency`` seconds, and refuses a request at once with HTTP 429 code
1302 ("too many concurrent requests", Z.AI's shape) while ``limit`` requests are being served.
``GET /control?limit=N`` changes the limit; ``GET /stats`` returns what it counted.

The answers are fixtures, not model output.

    with Loopback(latency=0.5, limit=16) as server:
        ...  # server.url is the base URL (http://127.0.0.1:PORT/v1)
        server.stats()  # {"accepted": ..., "rejected": ..., "serving": ..., "timeline": [...]}
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import httpx

ANSWER = (
    '[{"label": "scratch", "bbox_2d": [100,100,400,400]}, '
    '{"label": "dent", "bbox_2d": [500,500,700,800]}]'
)


def _completion(answer: str) -> bytes:
    body = {
        "id": "fixture",
        "object": "chat.completion",
        "model": "glm-4.5v",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230},
    }
    return json.dumps(body).encode()


def _reply(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


REFUSED = _reply(
    429, b'{"error": {"code": "1302", "message": "fixture: too many concurrent requests"}}'
)


class _State:
    def __init__(self, latency: float, limit: int | None, answer: str) -> None:
        self.latency = latency
        self.limit = limit
        self.ok = _reply(200, _completion(answer))
        self.serving = 0
        self.accepted = 0
        self.rejected = 0
        self.started = time.monotonic()
        self.timeline: list[tuple[float, int]] = []  # (seconds, requests being served) at changes

    def mark(self) -> None:
        self.timeline.append((round(time.monotonic() - self.started, 4), self.serving))


async def _handle(
    state: _State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            length = 0
            for line in lines:
                if line[:15].lower() == "content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if method == "POST" and target.endswith("/chat/completions"):
                if state.limit is not None and state.serving >= state.limit:
                    state.rejected += 1
                    writer.write(REFUSED)
                else:
                    state.accepted += 1
                    state.serving += 1
                    state.mark()
                    try:
                        if state.latency:
                            await asyncio.sleep(state.latency)
                        writer.write(state.ok)
                    finally:
                        state.serving -= 1
                        state.mark()
            elif target.startswith("/control"):
                value = target.partition("limit=")[2]
                state.limit = int(value) if value.isdigit() else None
                writer.write(_reply(200, b"{}"))
            elif target.startswith("/stats"):
                stats = {
                    "accepted": state.accepted,
                    "rejected": state.rejected,
                    "serving": state.serving,
                    "timeline": state.timeline,
                }
                writer.write(_reply(200, json.dumps(stats).encode()))
                if "reset" in target:
                    state.accepted = state.rejected = 0
                    state.timeline = []
                    state.started = time.monotonic()
            else:
                writer.write(_reply(404, b"{}"))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _serve(latency: float, limit: int | None) -> None:
    async def main() -> None:
        state = _State(latency, limit, ANSWER)
        server = await asyncio.start_server(
            lambda r, w: _handle(state, r, w), "127.0.0.1", 0, backlog=4096
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Loopback:
    """The server in a child process (``python benchmarks/loopback.py``); a context manager."""

    def __init__(self, latency: float = 0.0, limit: int | None = None) -> None:
        self._command = [sys.executable, __file__, str(latency), str(limit or 0)]
        self.port = 0

    def __enter__(self) -> Loopback:
        self._process = subprocess.Popen(self._command, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline())
        self.pid = self._process.pid
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.kill()
        self._process.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def set_limit(self, limit: int | None) -> None:
        httpx.get(f"http://127.0.0.1:{self.port}/control?limit={limit or ''}")

    def stats(self, reset: bool = False) -> dict[str, Any]:
        query = "?reset" if reset else ""
        return dict(httpx.get(f"http://127.0.0.1:{self.port}/stats{query}").json())


if __name__ == "__main__":
    _serve(float(sys.argv[1]), int(sys.argv[2]) or None)
