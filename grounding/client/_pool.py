"""A connection pool split in small pools: the async client's default transport.

httpcore's pool does work per request that grows with its number of connections (it scans
them all to assign requests), which at 64 connections was most of the client's CPU per
request; eight pools of eight cost a third as much (``benchmarks/request_path.py``). Each
request goes to the pool with the fewest requests in flight.

>>> pool = SplitPool(64)
>>> len(pool.parts)
8
"""

from __future__ import annotations

import httpx

__all__ = ["PART_SIZE", "SplitPool"]

PART_SIZE = 8  # connections per pool


class SplitPool(httpx.AsyncBaseTransport):
    """``max_connections`` connections as pools of at most :data:`PART_SIZE`."""

    def __init__(self, max_connections: int) -> None:
        count = max(1, -(-max_connections // PART_SIZE))
        sizes = [max_connections // count + (i < max_connections % count) for i in range(count)]
        self.parts = [
            httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size)
            )
            for size in sizes
        ]
        self._busy = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self._busy.index(min(self._busy))
        self._busy[index] += 1
        try:
            return await self.parts[index].handle_async_request(request)
        finally:
            self._busy[index] -= 1

    async def aclose(self) -> None:
        for part in self.parts:
            await part.aclose()
