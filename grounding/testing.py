"""A scripted OpenAI-compatible server on 127.0.0.1, for tests, benchmarks and demos.

It answers ``POST /v1/chat/completions`` from a script: queued :class:`Reply` objects first,
then a default (a fixed reply, or a function of the request). It can answer slowly, fail with
any status and business code, stream SSE (cut short, or with an error mid-stream), drop the
connection, trickle bytes, send an endless body or a gzip bomb. Every request is recorded.
``GET /images/NAME`` serves bytes from ``server.images``.

**All answers it gives are fixtures written for tests, not model output.**

    with ScriptedServer(default=chat("<|begin_of_box|>[[1,2,3,4]]<|end_of_box|>")) as server:
        client = Client("openai", base_url=server.url)

Run it by hand, from any directory (for trying the CLI without a model or a key):
    python -m grounding.testing --port 8765 \\
        --answer "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gzip
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Recorded",
    "Reply",
    "ScriptedServer",
    "chat",
    "endless",
    "error",
    "gzip_bomb",
    "openai_error",
    "sse",
    "trickle",
    "vllm_error",
]


@dataclass
class Reply:
    """One scripted answer.

    ``stream``: SSE data payloads (dicts or raw strings). ``chunks``: raw bytes written one by
    one, ``chunk_delay`` seconds apart. ``endless``: these bytes repeated until the client
    hangs up. ``gzip``: the body is sent gzip-compressed. ``drop``: close without answering.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream: list[Any] | None = None
    drop: bool = False
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0
    endless: bytes | None = None
    gzip: bool = False


@dataclass
class Recorded:
    """A request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: Any


def _usage(usage: tuple[int, int], cached_tokens: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prompt_tokens": usage[0],
        "completion_tokens": usage[1],
        "total_tokens": usage[0] + usage[1],
    }
    if cached_tokens is not None:
        data["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    return data


def chat(
    content: Any = "",
    *,
    reasoning: str | None = None,
    reasoning_key: str = "reasoning_content",
    finish_reason: str | None = "stop",
    usage: tuple[int, int] = (1200, 30),
    model: str = "glm-4.5v",
    delay: float = 0.0,
    cached_tokens: int | None = None,
    request_id: str | None = None,
    raw_usage: Any = None,
) -> Reply:
    """A chat completion carrying ``content`` (a string, a list of parts, or None) and
    reasoning under ``reasoning_key``. ``request_id`` gives Z.AI's shape (``request_id``,
    ``created``); ``raw_usage`` replaces the usage object as given."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message[reasoning_key] = reasoning
    body: dict[str, Any] = {
        "id": request_id or "fixture",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": raw_usage if raw_usage is not None else _usage(usage, cached_tokens),
    }
    if request_id is not None:
        body["request_id"] = request_id
        body["created"] = 1754000000
        del body["object"]
    return Reply(body=body, delay=delay)


def error(status: int, code: str | None, message: str, *, retry_after: str | None = None) -> Reply:
    """An error reply in Z.AI's shape: ``{"error": {"code": "1302", "message": ...}}``."""
    payload: dict[str, Any] = {"message": message}
    if code is not None:
        payload["code"] = code
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=status, body={"error": payload}, headers=headers)


def openai_error(status: int, code: str | None, kind: str, message: str) -> Reply:
    """An error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
    payload = {"message": message, "type": kind, "param": None, "code": code}
    return Reply(status=status, body={"error": payload})


def vllm_error(status: int, message: str, kind: str = "BadRequestError") -> Reply:
    """An error in vLLM's shape: ``{"object": "error", "message", "type", "code": status}``."""
    body = {"object": "error", "message": message, "type": kind, "param": None, "code": status}
    return Reply(status=status, body=body)


def sse(
    pieces: list[str],
    *,
    error_after: int | None = None,
    code: str = "1302",
    reasoning: list[str] | None = None,
    reasoning_key: str = "reasoning_content",
    usage: tuple[int, int] = (1200, 30),
    finish_reason: str | None = "stop",
    done: bool = True,
    cached_tokens: int | None = None,
    request_id: str | None = None,
    status: int = 200,
) -> Reply:
    """A streamed answer. With ``error_after`` an error object replaces the rest mid-stream;
    ``finish_reason=None`` and ``done=False`` cut the stream before its end."""
    ids = {"id": request_id, "request_id": request_id} if request_id else {}
    events: list[Any] = []
    for text in reasoning or []:
        events.append({**ids, "choices": [{"index": 0, "delta": {reasoning_key: text}}]})
    for i, text in enumerate(pieces):
        if error_after is not None and i == error_after:
            events.append({"error": {"code": code, "message": "stream interrupted"}})
            return Reply(status=status, stream=events)
        delta = {"role": "assistant", "content": text}
        events.append({**ids, "model": "glm-4.5v", "choices": [{"index": 0, "delta": delta}]})
    if finish_reason is not None:
        last: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": finish_reason}
        events.append({**ids, "choices": [last], "usage": _usage(usage, cached_tokens)})
    if done:
        events.append("[DONE]")
    return Reply(status=status, stream=events)


def endless(*, sse_events: bool = False) -> Reply:
    """A body that never ends (a broken or hostile server): JSON-looking or SSE events."""
    if sse_events:
        event = b'data: {"choices": [{"index": 0, "delta": {"content": "[[1,2,3,4]] "}}]}\n\n'
        return Reply(endless=event * 256, headers={"Content-Type": "text/event-stream"})
    return Reply(endless=b'{"choices": [' + b" " * 65536)


def gzip_bomb(size: int) -> Reply:
    """A gzip body that inflates to ``size`` bytes of spaces inside a JSON string."""
    return Reply(body=b'{"x": "' + b" " * size + b'"}', gzip=True)


def trickle(data: bytes, seconds_per_byte: float) -> Reply:
    """``data`` sent one byte at a time, ``seconds_per_byte`` apart (a slow-loris reply)."""
    return Reply(chunks=[data[i : i + 1] for i in range(len(data))], chunk_delay=seconds_per_byte)


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
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )  # a short poll: stop() returns within 50 ms, not 0.5 s

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
            with contextlib.suppress(OSError):  # the client hung up: fine, it may mean to
                self._answer(reply)

        def _answer(self, reply: Reply) -> None:
            if reply.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif reply.stream is not None:
                self._stream(reply)
            elif reply.chunks is not None or reply.endless is not None:
                self._raw(reply)
            else:
                payload = reply.body
                if not isinstance(payload, (str, bytes)):
                    payload = json.dumps(payload)
                data = payload.encode() if isinstance(payload, str) else payload
                headers = {"Content-Type": "application/json", **reply.headers}
                if reply.gzip:
                    data = gzip.compress(data, compresslevel=9)
                    headers["Content-Encoding"] = "gzip"
                self._send(reply.status, data, headers)

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _open_ended(self, reply: Reply, content_type: str) -> None:
            """Headers for a body of unknown length (ends when the connection closes)."""
            headers = {k.lower(): v for k, v in reply.headers.items()}
            self.send_response(reply.status)
            self.send_header("Content-Type", headers.pop("content-type", content_type))
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _stream(self, reply: Reply) -> None:
            self._open_ended(reply, "text/event-stream")
            for event in reply.stream or []:
                data = event if isinstance(event, str) else json.dumps(event)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

        def _raw(self, reply: Reply) -> None:
            self._open_ended(reply, "application/json")
            for chunk in reply.chunks or []:
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(reply.chunk_delay)
            while reply.endless:
                self.wfile.write(reply.endless)

    return Handler


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m grounding.testing",
        description="Run the scripted OpenAI-compatible test server: every answer is a fixture, "
        "not model output.",
    )
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--answer", default="<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = ap.parse_args(argv)
    try:
        server = ScriptedServer(chat(args.answer, delay=args.latency), port=args.port).start()
    except OSError as exc:
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
        print(
            f"error: port {args.port} on 127.0.0.1 {reason}; choose another with --port",
            file=sys.stderr,
        )
        return 2
    print(f"fixture server at {server.url} (answers {args.answer!r}); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
