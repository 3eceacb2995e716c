"""The async client's split connection pool (``grounding.client._pool``)."""

from __future__ import annotations

import asyncio

import httpx

from grounding import AsyncClient
from grounding.client._pool import SplitPool
from tests.server import chat

ANSWER = "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"  # a fixture answer


def test_the_pool_is_split_in_parts_that_all_serve(server, fast_retry) -> None:
    server.default = chat(ANSWER, delay=0.2)
    used: set[int] = set()

    async def go() -> list[int]:
        async with AsyncClient(
            "openai", base_url=server.url, retry=fast_retry, max_connections=24
        ) as client:
            pool = client._http._transport
            assert isinstance(pool, SplitPool) and [
                p._pool._max_connections for p in pool.parts
            ] == [8, 8, 8]
            original = [part.handle_async_request for part in pool.parts]
            for i, part in enumerate(pool.parts):

                async def watched(request: httpx.Request, i: int = i) -> httpx.Response:
                    used.add(i)
                    return await original[i](request)

                part.handle_async_request = watched  # type: ignore[method-assign]
            messages = [{"role": "user", "content": f"fixture request {i}"} for i in range(24)]
            replies = await asyncio.gather(
                *(client.complete([m], model="glm-4.5v") for m in messages)
            )
            return [len(r.content) for r in replies]

    assert asyncio.run(go()) == [len(ANSWER)] * 24
    assert used == {0, 1, 2}  # the least busy part takes each request


def test_a_caller_transport_and_small_pools_are_left_alone(server) -> None:
    async def go() -> tuple[object, object]:
        mock = httpx.MockTransport(lambda request: httpx.Response(500))
        async with (
            AsyncClient("openai", base_url=server.url, transport=mock) as mine,
            AsyncClient("openai", base_url=server.url, max_connections=8) as small,
        ):
            return mine._http._transport, small._http._transport

    mine, small = asyncio.run(go())
    assert isinstance(mine, httpx.MockTransport) and isinstance(small, httpx.AsyncHTTPTransport)
