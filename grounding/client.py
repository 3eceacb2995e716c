"""Clients for Z.AI, BigModel and any OpenAI-compatible server (vLLM, SGLang, LM Studio, ...).

``Client`` and ``AsyncClient`` are twins over httpx with an explicit lifecycle (use them as
context managers). Everything but the I/O (request bodies, error classification, answer and
stream parsing, the retry schedule) is shared, in plain functions.

>>> with Client("openai", base_url="http://127.0.0.1:8000/v1") as client:  # doctest: +SKIP
...     result = client.locate("photo.jpg", "the red car", model="glm-4.5v")
...     result.boxes, result.response.usage
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from grounding import prompts
from grounding.cache import ResponseCache, cache_key
from grounding.errors import (
    SLOW_RETRY_CODES,
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    ContentBlockedError,
    classify_error,
    error_in_body,
)
from grounding.images import ImageSource, PreparedImage, prepare_image
from grounding.parsing import parse
from grounding.profiles import Profile, Reference, Thinking, get_profile
from grounding.result import Grounding

__all__ = [
    "PROVIDERS",
    "AsyncClient",
    "Client",
    "Provider",
    "Response",
    "RetryPolicy",
    "Settings",
    "Usage",
    "resolve_settings",
]


@dataclass(frozen=True)
class Provider:
    """An API family: where it lives, where its key comes from, how thinking is switched."""

    name: str
    base_url: str | None
    key_env: str
    key_required: bool
    thinking_style: str  # "zai": {"thinking": {"type": ...}}; "chat_template": vLLM/SGLang


PROVIDERS: dict[str, Provider] = {
    "zai": Provider("zai", "https://api.z.ai/api/paas/v4", "ZAI_API_KEY", True, "zai"),
    "bigmodel": Provider(
        "bigmodel", "https://open.bigmodel.cn/api/paas/v4", "ZHIPUAI_API_KEY", True, "zai"
    ),
    "openai": Provider("openai", None, "OPENAI_API_KEY", False, "chat_template"),
}
DEFAULT_MODEL = "glm-4.5v"


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings. The key is kept out of ``repr``."""

    provider: Provider
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)


def resolve_settings(
    provider: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Arguments first, then ``GROUNDING_PROVIDER`` / ``GROUNDING_BASE_URL`` /
    ``GROUNDING_MODEL`` and the provider's key variable.

    Without a provider: ``openai`` when a base URL is given, else ``zai`` when ``ZAI_API_KEY``
    is set, else ``bigmodel`` when ``ZHIPUAI_API_KEY`` is, else ``zai``. Raises
    :class:`ConfigurationError` naming what to set.
    """
    env = os.environ if env is None else env
    base_url = base_url or env.get("GROUNDING_BASE_URL") or None
    name = (provider or env.get("GROUNDING_PROVIDER") or "").strip().lower()
    if not name:
        if base_url:
            name = "openai"
        elif env.get("ZHIPUAI_API_KEY") and not env.get("ZAI_API_KEY"):
            name = "bigmodel"
        else:
            name = "zai"
    if name not in PROVIDERS:
        raise ConfigurationError(
            f"unknown provider {name!r}: use one of {', '.join(PROVIDERS)} "
            "(--provider or GROUNDING_PROVIDER)"
        )
    spec = PROVIDERS[name]
    url = base_url or spec.base_url
    if not url:
        raise ConfigurationError(
            "the openai provider needs a base URL: pass --base-url or set GROUNDING_BASE_URL "
            "(e.g. http://localhost:8000/v1 for vLLM or SGLang)"
        )
    key = api_key or env.get(spec.key_env) or None
    if spec.key_required and not key:
        raise ConfigurationError(f"no API key for {name}: set {spec.key_env} or pass --api-key")
    return Settings(
        spec, url.rstrip("/"), model or env.get("GROUNDING_MODEL") or DEFAULT_MODEL, key
    )


@dataclass(frozen=True)
class Usage:
    """Token counts as the API reported them (0 where it did not)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def from_api(cls, data: Any) -> Usage:
        if not isinstance(data, dict):
            return cls()

        def count(name: str) -> int:
            value = data.get(name)
            return int(value) if isinstance(value, (int, float)) else 0

        prompt, completion = count("prompt_tokens"), count("completion_tokens")
        return cls(prompt, completion, count("total_tokens") or prompt + completion)


@dataclass
class Response:
    """One model answer: text, reasoning, usage, latency and the raw reply."""

    content: str
    reasoning: str = ""
    usage: Usage = field(default_factory=Usage)
    latency: float = 0.0
    finish_reason: str | None = None
    model: str = ""
    raw: str = ""
    cached: bool = False
    attempts: int = 1

    def answer(self) -> tuple[str, list[str]]:
        """The text to parse, and a warning when it had to come from the reasoning."""
        if self.content.strip():
            return self.content, []
        if self.reasoning.strip():
            return self.reasoning, [
                "the answer was empty; parsed the reasoning instead (some servers put "
                "everything there)"
            ]
        return self.content, []

    def to_cache(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "usage": asdict(self.usage),
            "finish_reason": self.finish_reason,
            "model": self.model,
            "raw": self.raw,
        }

    @classmethod
    def from_cache(cls, data: Mapping[str, Any]) -> Response:
        return cls(
            content=str(data.get("content") or ""),
            reasoning=str(data.get("reasoning") or ""),
            usage=Usage.from_api(data.get("usage")),
            finish_reason=data.get("finish_reason"),
            model=str(data.get("model") or ""),
            raw=str(data.get("raw") or ""),
            cached=True,
            attempts=0,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` wins when the server sends one."""

    max_retries: int = 5
    base_delay: float = 0.5
    slow_base_delay: float = 4.0  # codes 1120/1305/1312: the platform is overloaded
    max_delay: float = 60.0
    max_retry_after: float = 300.0  # the longest server-requested wait we accept

    def delay(self, attempt: int, error: APIError) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based) after ``error``."""
        if error.retry_after is not None:
            return max(0.0, min(error.retry_after, self.max_retry_after))
        base = self.slow_base_delay if error.code in SLOW_RETRY_CODES else self.base_delay
        ceiling = min(self.max_delay, base * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def should_retry(self, attempt: int, error: APIError) -> bool:
        limit = self.max_retries
        if isinstance(error, APIConnectionError) and error.unreachable:
            limit = min(limit, 2)  # nothing listening: say so soon
        return error.retryable and attempt < limit


# --- request and reply, shared by both clients ---------------------------------------------


def request_body(
    messages: list[dict[str, Any]],
    *,
    model: str,
    profile: Profile,
    provider: Provider,
    thinking: bool,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
) -> dict[str, Any]:
    """The JSON body of a chat completion, with the thinking switch in the provider's form."""
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if profile.thinking is Thinking.REQUEST:
        if provider.thinking_style == "zai":
            body["thinking"] = {"type": "enabled" if thinking else "disabled"}
        else:
            body["chat_template_kwargs"] = {"enable_thinking": thinking}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds)
    try:
        return max(0.0, float(parsedate_to_datetime(value).timestamp()) - time.time())
    except (TypeError, ValueError):
        return None


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def error_from_reply(status: int, text: str, headers: httpx.Headers) -> APIError:
    """The typed error for a non-2xx reply."""
    body = _decode(text)
    if body is None and text.strip():
        body = {"error": {"message": text.strip()[:300]}}
    return classify_error(status, body, _retry_after(headers))


def completion_from_body(body: Any, raw: str, latency: float, status: int = 200) -> Response:
    """A :class:`Response` from a chat-completion body; raises the typed error it carries."""
    if not isinstance(body, dict):
        raise classify_error(status, {"error": {"message": "the reply is not JSON"}})
    if error_in_body(body) and not body.get("choices"):
        raise classify_error(status, body)
    choices = body.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    response = Response(
        content=str(message.get("content") or ""),
        reasoning=str(message.get("reasoning_content") or message.get("reasoning") or ""),
        usage=Usage.from_api(body.get("usage")),
        latency=latency,
        finish_reason=choice.get("finish_reason"),
        model=str(body.get("model") or ""),
        raw=raw,
    )
    return _checked(response)


def _checked(response: Response) -> Response:
    if response.finish_reason == "sensitive":
        raise ContentBlockedError("the provider's safety filter blocked this request", code="1301")
    return response


class StreamReader:
    """Accumulates an SSE chat stream (``data: {chunk}`` lines, ``data: [DONE]``)."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.usage = Usage()
        self.finish_reason: str | None = None
        self.model = ""
        self.done = False

    def feed(self, line: str) -> None:
        """Take one line; raises the typed error when the stream carries one."""
        if not line.startswith("data:"):
            return
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return
        chunk = _decode(data)
        if not isinstance(chunk, dict):
            return
        if error_in_body(chunk) and not chunk.get("choices"):
            raise classify_error(None, chunk)
        self.model = str(chunk.get("model") or self.model)
        if chunk.get("usage"):
            self.usage = Usage.from_api(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            self.content.append(str(delta.get("content") or ""))
            self.reasoning.append(
                str(delta.get("reasoning_content") or delta.get("reasoning") or "")
            )
            self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def response(self, latency: float) -> Response:
        content = "".join(self.content)
        reasoning = "".join(self.reasoning)
        raw = json.dumps({"content": content, "reasoning": reasoning}, ensure_ascii=False)
        return _checked(
            Response(content, reasoning, self.usage, latency, self.finish_reason, self.model, raw)
        )


def _transport_error(exc: httpx.HTTPError, base_url: str) -> APIError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no answer from {base_url} in time ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(f"cannot reach {base_url}: {exc}", unreachable=True)
    return APIConnectionError(f"the connection to {base_url} failed: {exc}")


def ground_response(response: Response, prepared: PreparedImage, model: str | Profile) -> Grounding:
    """Parse a model's response for a prepared image into pixels of the original."""
    profile = get_profile(model)
    text, notes = response.answer()
    input_size = prepared.sent_size if profile.reference is Reference.RESIZED_INPUT else None
    result = parse(text, model=model, image_size=prepared.size, input_size=input_size)
    result.warnings[:0] = notes
    if response.finish_reason == "length":
        result.warnings.append("the answer was cut off at max_tokens")
    result.response = response
    return result


@dataclass
class _Options:
    thinking: bool
    max_tokens: int | None
    temperature: float | None
    stream: bool
    max_pixels: int | None


class _Base:
    """Configuration shared by the twins."""

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
        on_retry: Callable[[APIError], None] | None = None,
    ) -> None:
        self.settings = resolve_settings(provider, base_url=base_url, api_key=api_key, model=model)
        self.on_retry = on_retry
        self.options = _Options(thinking, max_tokens, temperature, stream, max_pixels)
        self.retry = retry or RetryPolicy()
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=None)
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

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "grounding"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        return headers

    def _plan(
        self,
        messages: list[dict[str, Any]],
        model: str | None,
        thinking: bool | None,
        max_tokens: int | None,
        temperature: float | None,
        stream: bool | None,
    ) -> tuple[dict[str, Any], str | None]:
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
        key = None
        if self.cache is not None:
            params = {k: v for k, v in body.items() if k not in ("messages", "model", "stream")}
            key = cache_key(messages, model=name, params=params)
        return body, key

    def _cached(self, key: str | None) -> Response | None:
        if key is None or self.cache is None:
            return None
        stored = self.cache.get(key)
        return None if stored is None else Response.from_cache(stored)

    def _store(self, key: str | None, response: Response) -> None:
        if key is not None and self.cache is not None:
            self.cache.put(key, response.to_cache(), model=response.model)

    def _prepare(
        self, image: ImageSource | PreparedImage, model: str | None
    ) -> tuple[PreparedImage, str]:
        name = model or self.settings.model
        if isinstance(image, PreparedImage):
            return image, name
        return prepare_image(
            image, profile=get_profile(name), max_pixels=self.options.max_pixels
        ), name

    def _task_text(
        self,
        task: prompts.Task,
        subject: str | Sequence[str],
        model: str | None,
        thinking: bool | None,
    ) -> str:
        if task == "detect" and isinstance(subject, str):
            subject = _classes(subject)
        profile = get_profile(model or self.settings.model)
        return prompts.prompt_text(task, subject, model=profile, thinking=thinking)

    def _backoff(self, attempt: int, error: APIError) -> float:
        """Seconds to wait before trying again after ``error``; re-raises it when no retry
        is due (fatal error, or retries used up)."""
        if not self.retry.should_retry(attempt, error):
            raise error
        if self.on_retry is not None:
            self.on_retry(error)
        return self.retry.delay(attempt, error)

    def _finished(self, key: str | None, response: Response, attempt: int) -> Response:
        response.attempts = attempt + 1
        self._store(key, response)
        return response


class Client(_Base):
    """A synchronous client. Use as a context manager, or call :meth:`close`.

    ``cache`` is a :class:`ResponseCache`, a path, True for the default location, or None.
    ``transport`` is httpx's seam for tests and custom networking.
    """

    def __init__(
        self,
        provider: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        thinking: bool = False,
        max_tokens: int | None = 4096,
        temperature: float | None = None,
        timeout: float = 300.0,
        stream: bool = False,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | bool | str | None = None,
        max_pixels: int | None = None,
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[APIError], None] | None = None,
    ) -> None:
        super().__init__(
            provider, base_url=base_url, api_key=api_key, model=model, thinking=thinking,
            max_tokens=max_tokens, temperature=temperature, timeout=timeout, stream=stream,
            retry=retry, cache=cache, max_pixels=max_pixels, on_retry=on_retry,
        )  # fmt: skip
        self._http = httpx.Client(
            base_url=self.settings.base_url,
            headers=self._headers(),
            timeout=self.timeout,
            transport=transport,
        )

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
    ) -> Response:
        """Send chat messages; retry transient failures; return the :class:`Response`.

        ``use_cache=False`` asks again even when the cache has an answer (and stores the new one).
        """
        body, key = self._plan(messages, model, thinking, max_tokens, temperature, stream)
        cached = self._cached(key) if use_cache else None
        if cached is not None:
            return cached
        start = time.perf_counter()
        attempt = 0
        while True:
            try:
                return self._finished(key, self._send(body, start), attempt)
            except APIError as error:
                time.sleep(self._backoff(attempt, error))
                attempt += 1

    def _send(self, body: dict[str, Any], start: float) -> Response:
        try:
            if not body["stream"]:
                reply = self._http.post("/chat/completions", json=body)
                if reply.status_code >= 400:
                    raise error_from_reply(reply.status_code, reply.text, reply.headers)
                return completion_from_body(
                    _decode(reply.text), reply.text, time.perf_counter() - start, reply.status_code
                )
            with self._http.stream("POST", "/chat/completions", json=body) as reply:
                if reply.status_code >= 400:
                    reply.read()
                    raise error_from_reply(reply.status_code, reply.text, reply.headers)
                reader = StreamReader()
                for line in reply.iter_lines():
                    reader.feed(line)
                return reader.response(time.perf_counter() - start)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.settings.base_url) from None

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
        """Send ``image`` with a prompt of your own and parse the answer."""
        prepared, name = self._prepare(image, model)
        messages = prompts.messages(text, prepared.url)
        response = self.complete(messages, model=name, thinking=thinking, use_cache=use_cache)
        return ground_response(response, prepared, name)

    def locate(
        self, image: ImageSource | PreparedImage, expression: str, **kwargs: Any
    ) -> Grounding:
        """The box (or boxes) of one referring expression."""
        return self.ground("locate", image, expression, **kwargs)

    def detect(
        self, image: ImageSource | PreparedImage, classes: str | Iterable[str], **kwargs: Any
    ) -> Grounding:
        """Every instance of each category, labelled."""
        return self.ground("detect", image, _classes(classes), **kwargs)


class AsyncClient(_Base):
    """The asynchronous twin of :class:`Client`; ``max_connections`` caps requests in flight."""

    def __init__(
        self,
        provider: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        thinking: bool = False,
        max_tokens: int | None = 4096,
        temperature: float | None = None,
        timeout: float = 300.0,
        stream: bool = False,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | bool | str | None = None,
        max_pixels: int | None = None,
        max_connections: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
        on_retry: Callable[[APIError], None] | None = None,
    ) -> None:
        super().__init__(
            provider, base_url=base_url, api_key=api_key, model=model, thinking=thinking,
            max_tokens=max_tokens, temperature=temperature, timeout=timeout, stream=stream,
            retry=retry, cache=cache, max_pixels=max_pixels, on_retry=on_retry,
        )  # fmt: skip
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            headers=self._headers(),
            timeout=self.timeout,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

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
    ) -> Response:
        """Send chat messages; retry transient failures; return the :class:`Response`.

        ``use_cache=False`` asks again even when the cache has an answer (and stores the new one).
        """
        body, key = self._plan(messages, model, thinking, max_tokens, temperature, stream)
        cached = self._cached(key) if use_cache else None
        if cached is not None:
            return cached
        start = time.perf_counter()
        attempt = 0
        while True:
            try:
                return self._finished(key, await self._send(body, start), attempt)
            except APIError as error:
                await asyncio.sleep(self._backoff(attempt, error))
                attempt += 1

    async def _send(self, body: dict[str, Any], start: float) -> Response:
        try:
            if not body["stream"]:
                reply = await self._http.post("/chat/completions", json=body)
                if reply.status_code >= 400:
                    raise error_from_reply(reply.status_code, reply.text, reply.headers)
                return completion_from_body(
                    _decode(reply.text), reply.text, time.perf_counter() - start, reply.status_code
                )
            async with self._http.stream("POST", "/chat/completions", json=body) as reply:
                if reply.status_code >= 400:
                    await reply.aread()
                    raise error_from_reply(reply.status_code, reply.text, reply.headers)
                reader = StreamReader()
                async for line in reply.aiter_lines():
                    reader.feed(line)
                return reader.response(time.perf_counter() - start)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.settings.base_url) from None

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
        """Send ``image`` with a prompt of your own and parse the answer."""
        prepared = (
            image if isinstance(image, PreparedImage) else await self.prepare(image, model=model)
        )
        name = model or self.settings.model
        messages = prompts.messages(text, prepared.url)
        response = await self.complete(messages, model=name, thinking=thinking, use_cache=use_cache)
        return ground_response(response, prepared, name)

    async def locate(
        self, image: ImageSource | PreparedImage, expression: str, **kwargs: Any
    ) -> Grounding:
        """The box (or boxes) of one referring expression."""
        return await self.ground("locate", image, expression, **kwargs)

    async def detect(
        self, image: ImageSource | PreparedImage, classes: str | Iterable[str], **kwargs: Any
    ) -> Grounding:
        """Every instance of each category, labelled."""
        return await self.ground("detect", image, _classes(classes), **kwargs)


def _classes(classes: str | Iterable[str]) -> list[str]:
    items = classes.split(",") if isinstance(classes, str) else list(classes)
    names = [c.strip() for c in items if c.strip()]
    if not names:
        raise ValueError("detect needs at least one class name")
    return names
