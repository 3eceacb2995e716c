"""The asynchronous client: the twin of :class:`~grounding.client.Client`."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import httpx

from grounding import prompts
from grounding._reply import Response
from grounding.cache import ResponseCache
from grounding.client._aiohttp import AiohttpTransport
from grounding.client._base import CHAT_PATH, ClientBase, Wait, classes_list
from grounding.client._retry import Deadline, RetryPolicy
from grounding.client._wire import encode_body, transport_error
from grounding.confidence.options import ConfidenceOptions
from grounding.errors import APIError
from grounding.images import ImageSource, PreparedImage
from grounding.result import Grounding

__all__ = ["AsyncClient"]


class AsyncClient(ClientBase):
    """The asynchronous twin of :class:`Client`; ``max_connections`` caps requests in flight.

    Use as an async context manager, or call :meth:`aclose`. Options as for ``Client``.

    ``timeout`` is the total seconds one request may take, retries and waits included.
    ``max_tokens`` None leaves the answer length to the server's own limit. ``cache`` is a
    :class:`ResponseCache`, a path, True for the default location, or None.
    ``max_reply_bytes`` caps one reply's size (None: 32 MiB, decoded). ``download_images``
    sends http(s) images as their bytes instead of their URL (for servers without internet
    access). ``transport`` is httpx's seam for custom networking; by default requests go
    through aiohttp under httpx (:class:`~grounding.client._aiohttp.AiohttpTransport`, far
    cheaper per request), or through httpx's own transport when the environment names a proxy.

    >>> async with AsyncClient("zai") as client:  # doctest: +SKIP
    ...     results = await asyncio.gather(*(client.locate(p, "the car") for p in paths))
    """

    def __init__(
        self,
        provider: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        thinking: bool = False,
        max_tokens: int | None = None,
        temperature: float | None = None,
        timeout: float = 300.0,
        stream: bool = False,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | bool | str | None = None,
        max_pixels: int | None = None,
        max_reply_bytes: int | None = None,
        download_images: bool = False,
        confidence: ConfidenceOptions | str | None = None,
        max_connections: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
        on_retry: Callable[[APIError], None] | None = None,
    ) -> None:
        super().__init__(
            provider, base_url=base_url, api_key=api_key, model=model, thinking=thinking,
            max_tokens=max_tokens, temperature=temperature, timeout=timeout, stream=stream,
            retry=retry, cache=cache, max_pixels=max_pixels, max_reply_bytes=max_reply_bytes,
            download_images=download_images, confidence=confidence, on_retry=on_retry,
        )  # fmt: skip
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        if transport is None and not _environment_proxies():
            transport = AiohttpTransport(max_connections)  # a fraction of httpcore's CPU
        self._http = httpx.AsyncClient(**self._http_options(), transport=transport, limits=limits)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connections."""
        await self._http.aclose()

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        thinking: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool | None = None,
        use_cache: bool = True,
        image_digests: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Response:
        """Send chat messages; retry transient failures; return the :class:`Response`.

        ``use_cache=False`` asks again even when the cache has an answer (and stores the new
        one). ``image_digests`` maps an image URL in the messages to the SHA-256 of its bytes
        (the cache key uses it; :meth:`ask` fills it in). ``extra`` body fields are sent and
        keyed too.
        """
        body, key = self._body_and_key(
            messages, model, thinking, max_tokens, temperature, stream, image_digests, extra
        )
        cached = self._cached(key) if use_cache else None
        if cached is not None:
            return cached
        start = time.perf_counter()
        plan = self._plan(key, model or self.settings.model)
        try:
            step = next(plan)
            while True:
                if isinstance(step, Wait):
                    await asyncio.sleep(step.seconds)
                    step = plan.send(None)
                    continue
                outcome: Response | APIError
                try:
                    outcome = await self._send(body, step.deadline, start)
                except APIError as error:
                    outcome = error
                step = plan.send(outcome)
        except StopIteration as done:
            return cast(Response, done.value)

    async def _send(self, body: dict[str, Any], deadline: Deadline, start: float) -> Response:
        timeout = self._attempt_timeout(deadline)
        try:
            async with self._http.stream(
                "POST", CHAT_PATH, content=encode_body(body), timeout=timeout
            ) as reply:
                reader = self._reader(reply, deadline)
                async for chunk in reply.aiter_bytes():
                    reader.feed(chunk)
                return reader.finish(time.perf_counter() - start)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.settings.base_url) from None

    async def ground(
        self,
        task: prompts.Task,
        image: ImageSource | PreparedImage,
        subject: str | Sequence[str],
        *,
        model: str | None = None,
        thinking: bool | None = None,
    ) -> Grounding:
        """Ask ``task`` about ``image`` and parse the answer into pixels of the original."""
        text = self._task_text(task, subject, model, thinking)
        return await self.ask(image, text, model=model, thinking=thinking)

    async def prepare(self, image: ImageSource, *, model: str | None = None) -> PreparedImage:
        """Load and encode ``image`` once for ``model`` (in a thread: it is CPU work)."""
        return (await asyncio.to_thread(self._prepare, image, model))[0]

    async def ask(
        self,
        image: ImageSource | PreparedImage,
        text: str,
        *,
        model: str | None = None,
        thinking: bool | None = None,
        use_cache: bool = True,
    ) -> Grounding:
        """Send ``image`` with a prompt of your own and parse the answer (scored as
        :meth:`Client.ask` describes, the samples sent concurrently)."""
        if isinstance(image, PreparedImage):
            prepared, name = image, model or self.settings.model
        else:
            prepared, name = await asyncio.to_thread(self._prepare, image, model)
        responses = await asyncio.gather(
            *(
                self.complete(
                    prompts.messages(text, prepared.url),
                    model=name,
                    thinking=thinking,
                    use_cache=use_cache,
                    image_digests={prepared.url: prepared.digest},
                    extra=extra,
                )
                for extra in self.request_extras
            )
        )
        return self.combine(responses, prepared, name)

    async def locate(
        self, image: ImageSource | PreparedImage, expression: str, **kwargs: Any
    ) -> Grounding:
        """The box (or boxes) of one referring expression."""
        return await self.ground("locate", image, expression, **kwargs)

    async def detect(
        self, image: ImageSource | PreparedImage, classes: str | Iterable[str], **kwargs: Any
    ) -> Grounding:
        """Every instance of each category, labelled."""
        return await self.ground("detect", image, classes_list(classes), **kwargs)


def _environment_proxies() -> bool:
    """Whether the environment names a proxy (``HTTPS_PROXY`` and the like): httpx's own
    transport then sends, as it honours them and ``NO_PROXY``."""
    return any(scheme != "no" for scheme in urllib.request.getproxies())
