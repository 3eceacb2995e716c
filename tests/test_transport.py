"""The async client's transport (``grounding.client._aiohttp``) and the request body encoder
(``grounding.client._wire.encode_body``). The reply shapes themselves run through this
transport in ``tests/test_conformance.py::test_reply_shapes_async``."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import httpx
import pytest

from grounding import AsyncClient
from grounding.client._aiohttp import AiohttpTransport
from grounding.client._wire import encode_body
from grounding.errors import APIConnectionError, APITimeoutError, ReplyTooLargeError
from tests.server import Reply, chat, endless

ANSWER = "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"  # a fixture answer
IMAGE = "data:image/jpeg;base64," + base64.b64encode(os.urandom(6000)).decode()


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(parts)}]


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_requests_go_through_aiohttp_with_httpx_headers_and_body(server) -> None:
    server.default = chat(ANSWER)
    messages = user(image(IMAGE), {"type": "text", "text": "the car"})

    async def go() -> tuple[object, str]:
        async with AsyncClient("openai", base_url=server.url, api_key="sk-fixture") as client:
            reply = await client.complete(messages, model="glm-4.5v")
            return client._http._transport, reply.content

    transport, content = run(go())
    assert isinstance(transport, AiohttpTransport) and content == ANSWER
    (request,) = server.chat_requests
    assert request.headers["Authorization"] == "Bearer sk-fixture"
    assert request.headers["User-Agent"].startswith("grounding/")
    assert request.headers["Content-Type"] == "application/json"
    assert request.body["messages"] == messages


def test_a_proxy_in_the_environment_or_a_callers_transport_is_honoured(server, monkeypatch):
    async def transport_of(**options: Any) -> object:
        async with AsyncClient("openai", base_url=server.url, **options) as client:
            return client._http._transport

    mock = httpx.MockTransport(lambda request: httpx.Response(500))
    assert run(transport_of(transport=mock)) is mock
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # httpx's transport honours it
    assert isinstance(run(transport_of()), httpx.AsyncHTTPTransport)
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("NO_PROXY", "example.com")  # names no proxy: aiohttp still sends
    assert isinstance(run(transport_of()), AiohttpTransport)


def test_nothing_listening_is_unreachable(fast_retry) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there

    async def go() -> None:
        async with AsyncClient(
            "openai", base_url=f"http://127.0.0.1:{port}/v1", retry=fast_retry
        ) as client:
            await client.complete(user({"type": "text", "text": "hi"}), model="glm-4.5v")

    with pytest.raises(APIConnectionError) as caught:
        run(go())
    assert caught.value.unreachable


@pytest.mark.parametrize(
    ("script", "options", "expect", "requests"),
    [
        # a connection dropped before the reply is worth another try
        ([Reply(drop=True)], {}, ANSWER, 2),
        # a gzip body is decoded (by httpx, above the transport)
        ([Reply(body=chat(ANSWER).body, gzip=True)], {}, ANSWER, 1),
        # a reply slower than the whole timeout ends the request
        ([Reply(body=chat(ANSWER).body, delay=3.0)], {"timeout": 0.5}, APITimeoutError, 1),
        # a body over the limit stops the read, and its half-read connection is not reused
        ([endless()], {"max_reply_bytes": 4096}, ReplyTooLargeError, 1),
    ],
)
def test_failures_below_http_come_out_as_the_clients_errors(
    server, fast_retry, script, options, expect, requests
) -> None:
    server.default = chat(ANSWER)
    server.script(*script)

    async def go() -> tuple[str | BaseException, str]:
        async with AsyncClient(
            "openai", base_url=server.url, retry=fast_retry, **options
        ) as client:
            messages = user({"type": "text", "text": "hi"})
            try:
                first: str | BaseException = (await client.complete(messages)).content
            except Exception as exc:
                first = exc
            after = await client.complete(messages, use_cache=False)  # the same pool
            return first, after.content

    first, after = run(go())
    if isinstance(expect, type):
        assert isinstance(first, expect)
    else:
        assert first == expect
    assert after == ANSWER
    assert len(server.chat_requests) == requests + 1


BODIES = [
    # an image URL long enough to be written in as it is
    {"model": "m", "messages": user(image(IMAGE), {"type": "text", "text": "the car"})},
    # bare base64 (Z.AI's form), two images, text with quotes, backslashes and non-ASCII
    {"messages": user(image(IMAGE[23:]), image(IMAGE), {"type": "text", "text": 'a "b" \\ é'})},
    # a long URL JSON must escape (a quote, a newline, non-ASCII) goes through json
    {"messages": user(image(IMAGE + '"'), image(IMAGE + "\n"), image(IMAGE + "é"))},
    # short URLs, string content, no messages at all
    {"messages": [{"role": "system", "content": "x"}, *user(image("data:,x"))]},
    {"model": "m", "temperature": 0.5, "thinking": {"type": "disabled"}},
]


@pytest.mark.parametrize("body", BODIES)
def test_encoded_body_is_what_json_dumps_gives(body: dict[str, Any]) -> None:
    expected = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert encode_body(body) == expected.encode("utf-8")


def test_encoded_body_refuses_nan_as_json_does() -> None:
    with pytest.raises(ValueError):
        encode_body({"temperature": float("nan")})


def test_a_client_serves_again_under_a_new_event_loop(server) -> None:
    server.default = chat(ANSWER)
    client = AsyncClient("openai", base_url=server.url)
    messages = user({"type": "text", "text": "hi"})
    first = run(client.complete(messages, use_cache=False))
    again = run(client.complete(messages, use_cache=False))  # the first loop is closed now
    run(client.aclose())
    assert first.content == again.content == ANSWER


def test_aiohttp_is_imported_on_the_first_request_not_with_the_package() -> None:
    import subprocess
    import sys

    code = "import sys, grounding, grounding.cli; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # a fifth of the CLI's start-up otherwise


def test_sniffio_and_aiohttp_are_declared_dependencies() -> None:
    """Issue 14: anyio no longer installs sniffio, and without it httpcore (httpx's own
    transport, still used behind a proxy) retried a failing import ~13 times per request."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    names = {Requirement(r).name for r in requires("grounding") or [] if "extra ==" not in r}
    assert {"sniffio", "aiohttp"} <= names
