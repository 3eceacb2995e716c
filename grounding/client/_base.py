"""What the two clients share: configuration, the cache, and the retry plan.

The retry plan is a generator that yields what to do next (:class:`Send` a request, or
:class:`Wait`) and is sent back each outcome; :class:`~grounding.client.Client` runs it with
blocking calls and :class:`~grounding.client.AsyncClient` with ``await``. The retry policy,
the deadline, key scrubbing and what may be cached therefore live here once.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from grounding import prompts
from grounding._reply import Response
from grounding.cache import ResponseCache, cache_key, image_urls
from grounding.client._retry import Deadline, RetryPolicy
from grounding.client._settings import Settings, resolve_settings
from grounding.client._wire import DEFAULT_MAX_REPLY_BYTES, ReplyReader, request_body
from grounding.confidence.options import ConfidenceOptions, combine, request_extras
from grounding.errors import APIError, APITimeoutError
from grounding.images import ImageSource, PreparedImage, prepare_image
from grounding.parsing import parse
from grounding.profiles import Profile, Reference, get_profile
from grounding.result import Grounding

__all__ = ["ClientBase", "Send", "Wait", "ground_response", "user_agent"]

CHAT_PATH = "/chat/completions"


def user_agent() -> str:
    """``grounding/VERSION httpx/VERSION``: lets a provider tell this client's requests apart."""
    try:
        version = importlib.metadata.version("grounding")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"grounding/{version} httpx/{httpx.__version__}"


@dataclass(frozen=True)
class Send:
    """Send the request once, within the deadline."""

    deadline: Deadline


@dataclass(frozen=True)
class Wait:
    """Sleep this many seconds before the next attempt."""

    seconds: float


Plan = Generator[Send | Wait, Response | APIError | None, Response]


@dataclass
class _Options:
    thinking: bool
    max_tokens: int | None
    temperature: float | None
    stream: bool
    max_pixels: int | None
    download_images: bool


def ground_response(response: Response, prepared: PreparedImage, model: str | Profile) -> Grounding:
    """Parse a model's response for a prepared image into pixels of the original."""
    profile = get_profile(model)
    text, notes = response.answer()
    input_size = prepared.sent_size if profile.reference is Reference.RESIZED_INPUT else None
    result = parse(text, model=model, image_size=prepared.size, input_size=input_size)
    result.warnings[:0] = notes
    if response.truncated:
        result.warnings.append(
            "the answer was cut off at max_tokens: boxes after the cut are missing"
        )
    result.response = response
    return result


class ClientBase:
    """Configuration and logic shared by the twins; see :class:`~grounding.client.Client`."""

    def __init__(
        self,
        provider: str | None,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str | None,
        thinking: bool,
        max_tokens: int | None,
        temperature: float | None,
        timeout: float,
        stream: bool,
        retry: RetryPolicy | None,
        cache: ResponseCache | bool | str | None,
        max_pixels: int | None,
        max_reply_bytes: int | None = None,
        download_images: bool = False,
        confidence: ConfidenceOptions | str | None = None,
        on_retry: Callable[[APIError], None] | None = None,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.settings: Settings = resolve_settings(
            provider, base_url=base_url, api_key=api_key, model=model
        )
        self.on_retry = on_retry
        self.options = _Options(
            thinking, max_tokens, temperature, stream, max_pixels, download_images
        )
        if isinstance(confidence, str):
            confidence = ConfidenceOptions(confidence)
        confidence = confidence or ConfidenceOptions()
        if confidence.method == "consistency" and temperature is not None:
            # the user's --temperature is the sampling temperature (0 would not sample: refused)
            confidence = dataclasses.replace(confidence, temperature=temperature)
        self.confidence = confidence
        # the body fields of each request one question takes (one per sample); raises for a
        # method the provider lacks, before anything is sent
        self.request_extras = request_extras(self.confidence, self.settings.provider.name)
        self.retry = retry or RetryPolicy()
        self.timeout = float(timeout)
        self.max_reply_bytes = (
            DEFAULT_MAX_REPLY_BYTES if max_reply_bytes is None else max_reply_bytes
        )
        if cache is True:
            self.cache: ResponseCache | None = ResponseCache()
        elif isinstance(cache, str):
            self.cache = ResponseCache(cache)
        else:
            self.cache = cache or None

    @property
    def model(self) -> str:
        return self.settings.model

    def __repr__(self) -> str:
        s = self.settings
        name = type(self).__name__
        return f"{name}(provider={s.provider.name!r}, base_url={s.base_url!r}, model={s.model!r})"

    def _http_options(self) -> dict[str, Any]:
        """Keyword arguments for the httpx client: URL, headers, credentials."""
        headers = {"Content-Type": "application/json", "User-Agent": user_agent()}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        options: dict[str, Any] = {"base_url": self.settings.base_url, "headers": headers}
        if self.settings.url_auth is not None:
            options["auth"] = httpx.BasicAuth(*self.settings.url_auth)
        if self.settings.url_params:
            options["params"] = list(self.settings.url_params)
        return options

    def _attempt_timeout(self, deadline: Deadline) -> httpx.Timeout:
        left = max(0.001, deadline.remaining())
        return httpx.Timeout(left, connect=min(left, 10.0), pool=None)

    def _reader(self, reply: httpx.Response, deadline: Deadline) -> ReplyReader:
        return ReplyReader(
            reply.status_code, reply.headers, limit=self.max_reply_bytes, deadline=deadline
        )

    # --- the request plan -------------------------------------------------------------

    def _body_and_key(
        self,
        messages: list[dict[str, Any]],
        model: str | None,
        thinking: bool | None,
        max_tokens: int | None,
        temperature: float | None,
        stream: bool | None,
        image_digests: Mapping[str, str] | None,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], str | None]:
        """The request body and its cache key (None without a cache); ``extra`` fields
        (a sample's seed, logprobs) go into both."""
        name = model or self.settings.model
        body = request_body(
            messages,
            model=name,
            profile=get_profile(name),
            provider=self.settings.provider,
            thinking=self.options.thinking if thinking is None else thinking,
            max_tokens=self.options.max_tokens if max_tokens is None else max_tokens,
            temperature=self.options.temperature if temperature is None else temperature,
            stream=self.options.stream if stream is None else stream,
        )
        body.update(extra or {})
        key = None
        digests = image_digests or {}
        by_url = any(
            url.startswith(("http://", "https://")) and url not in digests
            for url in image_urls(messages)
        )
        # an http(s) image whose bytes are unknown here cannot be keyed honestly: not cached
        if self.cache is not None and not by_url:
            params = {k: v for k, v in body.items() if k not in ("messages", "model", "stream")}
            key = cache_key(
                messages,
                model=name,
                params=params,
                endpoint=self.settings.endpoint,
                image_digests=image_digests,
            )
        return body, key

    def _cached(self, key: str | None) -> Response | None:
        if key is None or self.cache is None:
            return None
        stored = self.cache.get(key)
        return None if stored is None else Response.from_cache(stored)

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key and len(key) >= 4 and key in text else text

    def _plan(self, key: str | None, model: str) -> Plan:
        """Attempts until an answer, a fatal error, the retry limit or the deadline."""
        deadline = Deadline(self.timeout)
        attempt = 0
        while True:
            outcome = yield Send(deadline)
            if isinstance(outcome, Response):
                outcome.attempts = attempt + 1
                outcome.raw = self._scrub(outcome.raw)
                if key is not None and self.cache is not None and not outcome.truncated:
                    self.cache.put(key, outcome.to_cache(), model=model)
                return outcome
            assert isinstance(outcome, APIError)
            error = outcome.redact(self.settings.api_key)
            if not self.retry.should_retry(attempt, error):
                raise error
            delay = self.retry.delay(attempt, error)
            left = deadline.remaining()
            if delay >= left:
                if not isinstance(error, APITimeoutError):
                    waited = "asked to wait" if error.retry_after is not None else "would wait"
                    error.amend(
                        f"gave up: the server {waited} {delay:.1f} s, more than the "
                        f"{max(0.0, left):.1f} s left of the {self.timeout:g} s timeout"
                    )
                raise error
            if self.on_retry is not None:  # it may raise: the request then ends with that
                self.on_retry(error)  # (the labeling limiter queues a refused request itself)
            yield Wait(delay)
            attempt += 1

    def combine(
        self, responses: Sequence[Response], prepared: PreparedImage, model: str
    ) -> Grounding:
        """One result from the replies to a question's requests, one per
        :attr:`request_extras` entry, scored as :attr:`confidence` says."""
        return combine(responses, lambda r: ground_response(r, prepared, model), self.confidence)

    # --- images and prompts -----------------------------------------------------------

    def _prepare(
        self, image: ImageSource | PreparedImage, model: str | None
    ) -> tuple[PreparedImage, str]:
        name = model or self.settings.model
        if isinstance(image, PreparedImage):
            return image, name
        prepared = prepare_image(
            image,
            profile=get_profile(name),
            max_pixels=self.options.max_pixels,
            inline_urls=self.options.download_images,
        )
        return prepared, name

    def _task_text(
        self,
        task: prompts.Task,
        subject: str | Sequence[str],
        model: str | None,
        thinking: bool | None,
    ) -> str:
        if task == "detect" and isinstance(subject, str):
            subject = classes_list(subject)
        profile = get_profile(model or self.settings.model)
        return prompts.prompt_text(task, subject, model=profile, thinking=thinking)


def classes_list(classes: str | Iterable[str]) -> list[str]:
    """``"scratch, dent"`` or an iterable -> the class names, stripped; at least one."""
    items = classes.split(",") if isinstance(classes, str) else list(classes)
    names = [c.strip() for c in items if c.strip()]
    if not names:
        raise ValueError("detect needs at least one class name")
    return names
