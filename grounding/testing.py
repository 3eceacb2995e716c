"""A scripted OpenAI-compatible server on 127.0.0.1, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` from a script: queued :class:`Reply` objects first,
then a default (a fixed reply, or a function of the request). It can answer slowly, fail with
any status and business code, stream SSE (with an error mid-stream), or drop the connection.
Every request is recorded. ``GET /images/NAME`` serves bytes from ``server.images``.

All answers it gives are fixtures written for tests, not model output.

    with ScriptedServer(default=chat("<|begin_of_box|>[[1,2,3,4]]<|end_of_box|>")) as server:
        client = Client("openai", base_url=server.url)

Run it by hand (for trying the CLI without a model):
    python -m tests.server --port 8765 --answer "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Recorded", "Reply", "ScriptedServer", "chat", "error", "sse"]


@dataclass
class Reply:
    """One scripted answer. ``stream`` is a list of SSE data payloads (dicts or raw strings)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream: list[Any] | None = None
    drop: bool = False


@dataclass
class Recorded:
    """A request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: Any


def chat(
    content: str = "",
    *,
    reasoning: str | None = None,
    reasoning_key: str = "reasoning_content",
    finish_reason: str = "stop",
    usage: tuple[int, int] = (1200, 30),
    model: str = "glm-4.5v",
    delay: float = 0.0,
) -> Reply:
    """A chat completion carrying ``content`` (and reasoning under ``reasoning_key``)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message[reasoning_key] = reasoning
    body = {
        "id": "fixture",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        },
    }
    return Reply(body=body, delay=delay)


def error(status: int, code: str | None, message: str, *, retry_after: str | None = None) -> Reply:
    """An error reply in Z.AI's shape: ``{"error": {"code": "1302", "message": ...}}``."""
    payload: dict[str, Any] = {"message": message}
    if code is not None:
        payload["code"] = code
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=status, body={"error": payload}, headers=headers)


def sse(
    pieces: list[str],
    *,
    error_after: int | None = None,
    code: str = "1302",
    reasoning: list[str] | None = None,
    usage: tuple[int, int] = (1200, 30),
) -> Reply:
    """A streamed answer; with ``error_after`` an error object replaces the rest mid-stream."""
    events: list[Any] = []
    for text in reasoning or []:
        events.append({"choices": [{"index": 0, "delta": {"reasoning_content": text}}]})
    for i, text in enumerate(pieces):
        if error_after is not None and i == error_after:
            events.append({"error": {"code": code, "message": "stream interrupted"}})
            return Reply(stream=events)
        events.append({"model": "glm-4.5v", "choices": [{"index": 0, "delta": {"content": text}}]})
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append(
        {"choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}}
    )
    events.append("[DONE]")
    return Reply(stream=events)


Default = Reply | Callable[[Any], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the stdlib default of 5 resets connections under load


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 (an ephemeral port) that runs in a background thread."""

    def __init__(self, default: Default | None = None, port: int = 0) -> None:
        self.default: Default = default or chat("")
        self.images: dict[str, bytes] = {}
        self.requests: list[Recorded] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The OpenAI-style base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def image_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/images/{name}"

    def script(self, *replies: Reply) -> None:
        """Queue replies; they are used in order before the default."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def chat_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, body: Any) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default(body) if callable(self.default) else self.default


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in separate writes: without this, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every reply
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            name = self.path.rsplit("/", 1)[-1]
            data = server.images.get(name) if self.path.startswith("/images/") else None
            if data is None:
                self._send(404, b'{"error": {"message": "not found"}}', {})
            else:
                self._send(200, data, {"Content-Type": "application/octet-stream"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with server._lock:
                server.requests.append(Recorded(self.path, dict(self.headers), body))
            reply = server._next(body)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.stream is not None:
                self._stream(reply)
                return
            payload = reply.body if isinstance(reply.body, (str, bytes)) else json.dumps(reply.body)
            data = payload.encode() if isinstance(payload, str) else payload
            self._send(reply.status, data, {"Content-Type": "application/json", **reply.headers})

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for event in reply.stream or []:
                data = event if isinstance(event, str) else json.dumps(event)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser(description="Run the scripted test server (fixture answers).")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--answer", default="<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = ap.parse_args()
    server = ScriptedServer(chat(args.answer, delay=args.latency), port=args.port).start()
    print(f"fixture server at {server.url} (answers {args.answer!r}); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
