"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import httpx

from grounding import prompts
from grounding._reply import Response
from grounding.cache import ResponseCache
from grounding.client._base import CHAT_PATH, ClientBase, Wait, classes_list
from grounding.client._retry import Deadline, RetryPolicy
from grounding.client._wire import encode_body, transport_error
from grounding.confidence.options import ConfidenceOptions
from grounding.errors import APIError
from grounding.images import ImageSource, PreparedImage
from grounding.result import Grounding

__all__ = ["Client"]


class Client(ClientBase):
    """A synchronous client. Use as a context manager, or call :meth:`close`.

    ``timeout`` is the total seconds one request may take, retries and waits included.
    ``max_tokens`` None leaves the answer length to the server's own limit. ``cache`` is a
    :class:`ResponseCache`, a path, True for the default location, or None.
    ``max_reply_bytes`` caps one reply's size (None: 32 MiB, decoded). ``download_images``
    sends http(s) images as their bytes instead of their URL (for servers without internet
    access). ``transport`` is httpx's seam for custom networking.

    >>> with Client("openai", base_url="http://127.0.0.1:8000/v1") as client:  # doctest: +SKIP
    ...     client.locate("photo.jpg", "the red car").boxes
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
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[APIError], None] | None = None,
    ) -> None:
        super().__init__(
            provider, base_url=base_url, api_key=api_key, model=model, thinking=thinking,
            max_tokens=max_tokens, temperature=temperature, timeout=timeout, stream=stream,
            retry=retry, cache=cache, max_pixels=max_pixels, max_reply_bytes=max_reply_bytes,
            download_images=download_images, confidence=confidence, on_retry=on_retry,
        )  # fmt: skip
        self._http = httpx.Client(**self._http_options(), transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections."""
        self._http.close()

    def complete(
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
                    time.sleep(step.seconds)
                    step = plan.send(None)
                    continue
                outcome: Response | APIError
                try:
                    outcome = self._send(body, step.deadline, start)
                except APIError as error:
                    outcome = error
                step = plan.send(outcome)
        except StopIteration as done:
            return cast(Response, done.value)

    def _send(self, body: dict[str, Any], deadline: Deadline, start: float) -> Response:
        timeout = self._attempt_timeout(deadline)
        try:
            with self._http.stream(
                "POST", CHAT_PATH, content=encode_body(body), timeout=timeout
            ) as reply:
                reader = self._reader(reply, deadline)
                for chunk in reply.iter_bytes():
                    reader.feed(chunk)
                return reader.finish(time.perf_counter() - start)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.settings.base_url) from None

    def ground(
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
        return self.ask(image, text, model=model, thinking=thinking)

    def prepare(self, image: ImageSource, *, model: str | None = None) -> PreparedImage:
        """Load and encode ``image`` once for ``model``, to ask several questions about it."""
        return self._prepare(image, model)[0]

    def ask(
        self,
        image: ImageSource | PreparedImage,
        text: str,
        *,
        model: str | None = None,
        thinking: bool | None = None,
        use_cache: bool = True,
    ) -> Grounding:
        """Send ``image`` with a prompt of your own and parse the answer.

        With a ``confidence`` method the answer is scored: from its token log-probabilities,
        or by fusing several sampled answers (one request each, each cached by its seed).
        """
        prepared, name = self._prepare(image, model)
        responses = [
            self.complete(
                prompts.messages(text, prepared.url),
                model=name,
                thinking=thinking,
                use_cache=use_cache,
                image_digests={prepared.url: prepared.digest},
                extra=extra,
            )
            for extra in self.request_extras
        ]
        return self.combine(responses, prepared, name)

    def locate(
        self, image: ImageSource | PreparedImage, expression: str, **kwargs: Any
    ) -> Grounding:
        """The box (or boxes) of one referring expression."""
        return self.ground("locate", image, expression, **kwargs)

    def detect(
        self, image: ImageSource | PreparedImage, classes: str | Iterable[str], **kwargs: Any
    ) -> Grounding:
        """Every instance of each category, labelled."""
        return self.ground("detect", image, classes_list(classes), **kwargs)
