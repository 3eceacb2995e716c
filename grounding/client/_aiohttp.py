"""An httpx transport that sends through aiohttp: the async client's default.

httpx stays the client's interface (its request and response objects, redirects off, the
``transport=`` test seam, decoding of ``Content-Encoding``); only the connection handling
below it is aiohttp's, whose HTTP/1.1 parser and pool are C and cheap: the request path costs
a fraction of httpcore's CPU (``benchmarks/request_path.py``). Failures come out as the httpx
exceptions the client already classifies: a connection that could not be made is
``httpx.ConnectError`` (the server is unreachable), one lost later is ``httpx.ReadError`` or
``httpx.RemoteProtocolError`` (worth another try), and a timeout is a ``TimeoutException``.

>>> transport = AiohttpTransport(max_connections=16)
>>> transport.max_connections
16
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # imported on the first request: a fifth of `import grounding` otherwise
    import aiohttp

__all__ = ["AiohttpTransport"]


def _httpx_error(exc: BaseException) -> httpx.TransportError:
    """The httpx exception for an aiohttp failure (subclasses before their bases)."""
    import aiohttp

    name = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(name)
    if isinstance(exc, (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError)):
        return httpx.ReadTimeout(name)
    if isinstance(exc, asyncio.TimeoutError):
        return httpx.ReadTimeout(f"the request took longer than its timeout ({name})")
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, no route, DNS, TLS
        return httpx.ConnectError(name)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(name)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return httpx.RemoteProtocolError(name)
    if isinstance(exc, aiohttp.ClientResponseError):  # a reply aiohttp's parser refused
        return httpx.RemoteProtocolError(name)
    return httpx.ReadError(name)  # reset, broken pipe and the rest of ClientError/OSError


class _Body(httpx.AsyncByteStream):
    """The reply's body as it arrives; closing it frees the connection (or drops it when the
    body was not read to the end, so a half-read reply never reaches the next request)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise _httpx_error(exc) from exc

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over aiohttp with at most ``max_connections`` connections, keep-alive, TLS
    verified as httpx verifies it (certifi, ``SSL_CERT_FILE``/``SSL_CERT_DIR``).

    The session is made on the first request, inside the running event loop (and again
    in each new loop the transport is used in).
    """

    def __init__(self, max_connections: int = 64, *, keepalive_expiry: float = 5.0) -> None:
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            keepalive_timeout=self.keepalive_expiry,
            ssl=httpx.create_ssl_context(trust_env=True),
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
            auto_decompress=False,  # httpx decodes Content-Encoding
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            trust_env=False,  # proxies are httpx's: the client uses this transport without one
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp
        from yarl import URL

        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # a session belongs to one event loop: a client used again under a new
            # asyncio.run() gets a new one (the old loop's connections went with it)
            self._session, self._loop = self._open(), loop
        limits: dict[str, Any] = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=limits.get("read"),  # the client's read timeout is what the attempt has left
            connect=limits.get("pool"),
            sock_connect=limits.get("connect"),
            sock_read=limits.get("read"),
        )
        body = await request.aread()
        try:
            response = await self._session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ],
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            ).__aenter__()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise _httpx_error(exc) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("ascii", "replace"),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
