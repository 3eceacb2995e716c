"""The wire format: request bodies, reading replies (JSON or SSE), classifying failures.

Nothing here does I/O: both clients feed :class:`ReplyReader` the bytes they receive, so the
size limit, the deadline, the stream rules and the error classification are one piece of code.

>>> reader = ReplyReader(200, {"content-type": "text/event-stream"}, limit=1 << 20)
>>> reader.feed(b'data: {"choices": [{"delta": {"content": "[[1,2,3,4]]"}}]}\\n\\n')
>>> reader.feed(b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\\n\\n')
>>> reader.feed(b'data: [DONE]\\n\\n')
>>> reader.finish(0.1).content
'[[1,2,3,4]]'
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from grounding._reply import Response, Usage
from grounding.client._providers import Provider
from grounding.client._retry import Deadline
from grounding.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ReplyTooLargeError,
    ServerError,
    classify_error,
    error_for_finish_reason,
    error_in_body,
)
from grounding.profiles import Profile, Thinking

__all__ = [
    "DEFAULT_MAX_REPLY_BYTES",
    "ReplyReader",
    "content_text",
    "encode_body",
    "request_body",
    "retry_after",
    "transport_error",
]

DEFAULT_MAX_REPLY_BYTES = 32 * 1024 * 1024  # a 16K-token answer streamed is ~3 MB
_ERROR_BODY_LIMIT = 64 * 1024  # an error reply: keep this much to classify it


def _bare_base64(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with each ``data:image/…;base64,`` image URL reduced to the bare base64.

    Both official SDKs do this before sending (zai-sdk ``core/_utils/_utils.py``
    ``drop_prefix_image_data``, called from ``api_resource/chat/completions.py``; zhipuai
    2.1.x the same), and the Z.AI docs show bare base64 in ``image_url.url``.
    """
    out = copy.deepcopy(messages)
    for message in out:
        parts = message.get("content")
        if not isinstance(parts, list):
            continue
        for part in parts:
            image = part.get("image_url") if isinstance(part, dict) else None
            if not isinstance(image, dict):
                continue
            url = image.get("url")
            if isinstance(url, str) and url.startswith("data:image/"):
                image["url"] = url.split("base64,")[-1]
    return out


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
    """The JSON body of a chat completion in the provider's own form.

    Z.AI / BigModel follow the official SDK (zai-sdk 0.2.x / zhipuai 2.1.x
    ``chat/completions.py``): bare base64 images; ``temperature`` in the open interval
    (0, 1), where 0 or below means greedy decoding, sent as ``do_sample: false`` (with
    ``temperature: 0.01``, as the SDK sends it) and 1 or above becomes 0.99; the thinking
    switch as ``{"thinking": {"type": "enabled"|"disabled"}}``; no ``stream_options`` (the
    platform puts the usage in the last chunk anyway). Others get the OpenAI form, with
    vLLM/SGLang's ``chat_template_kwargs`` for thinking.
    """
    zai = provider.zai_dialect
    body: dict[str, Any] = {
        "model": model,
        "messages": _bare_base64(messages) if zai else messages,
        "stream": stream,
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        if zai and temperature <= 0:
            body["do_sample"] = False
            body["temperature"] = 0.01
        elif zai and temperature >= 1:
            body["temperature"] = 0.99
        else:
            body["temperature"] = temperature
    if profile.thinking is Thinking.REQUEST:
        if provider.thinking_style == "zai":
            body["thinking"] = {"type": "enabled" if thinking else "disabled"}
        else:
            body["chat_template_kwargs"] = {"enable_thinking": thinking}
    if stream and not zai:
        body["stream_options"] = {"include_usage": True}
    return body


_SPLICED = 4096  # image URLs at least this long are written into the body without json
_ESCAPED = ('"', "\\", *map(chr, range(32)))  # what JSON would have to escape in ASCII


def _verbatim(value: object) -> bool:
    """A long string JSON writes as it is (base64, a data URL): nothing to escape."""
    return (
        isinstance(value, str)
        and len(value) >= _SPLICED
        and value.isascii()
        and not any(c in value for c in _ESCAPED)
    )


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The body as JSON bytes, as httpx's ``json=`` writes it (UTF-8, compact, no NaN).

    An image's base64 is most of a request, and the JSON encoder scans it character by
    character for escapes it never has; here each long image URL is written in as it is,
    which takes a tenth of the CPU. The bytes are those ``json.dumps`` gives.

    >>> encode_body({"messages": [{"role": "user", "content": "hi"}]})
    b'{"messages":[{"role":"user","content":"hi"}]}'
    """
    marker = secrets.token_hex(8)
    urls: list[str] = []

    def part_without_url(part: Any) -> Any:
        image = part.get("image_url") if isinstance(part, dict) else None
        if not isinstance(image, dict) or not _verbatim(image.get("url")):
            return part
        urls.append(image["url"])
        return {**part, "image_url": {**image, "url": f"{marker}{len(urls) - 1}"}}

    messages = [
        {**m, "content": [part_without_url(p) for p in m["content"]]}
        if isinstance(m, dict) and isinstance(m.get("content"), list)
        else m
        for m in body.get("messages", ())
    ]
    light = {**body, "messages": messages} if "messages" in body else body
    text = json.dumps(light, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if urls:
        pieces = text.split(f'"{marker}')
        text = pieces[0] + "".join(
            f'"{urls[int(number)]}"{rest}'
            for number, rest in (piece.split('"', 1) for piece in pieces[1:])
        )
    return text.encode("utf-8")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's ``Retry-After`` in seconds (number or HTTP date), or None."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN: ignore
    try:
        return max(0.0, float(parsedate_to_datetime(value).timestamp()) - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def content_text(value: Any) -> str:
    """``content`` as text: a string, or a list of parts read as its text parts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for part in value:
            if isinstance(part, str):
                texts.append(part)
            elif (
                isinstance(part, Mapping)
                and isinstance(part.get("text"), str)
                and part.get("type", "text") in ("text", "output_text")
            ):
                texts.append(part["text"])
        return "".join(texts)
    return ""


def _reasoning_text(message: Mapping[str, Any]) -> str:
    return content_text(message.get("reasoning_content")) or content_text(message.get("reasoning"))


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return None


def transport_error(exc: httpx.HTTPError, base_url: str) -> APIError:
    """The typed error for a failure below HTTP (timeout, refused, reset)."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no answer from {base_url} in time ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(f"cannot reach {base_url}: {exc}", unreachable=True)
    if isinstance(exc, httpx.DecodingError):
        return ServerError(f"the reply from {base_url} could not be decoded: {exc}")
    return APIConnectionError(f"the connection to {base_url} failed: {exc}")


class ReplyReader:
    """Reads one reply from its bytes, whatever its shape, and says what it means.

    An HTTP error status, a JSON body (even to a stream request, or labelled as an event
    stream) or an SSE stream (even to a plain request, or labelled as JSON) are all read.
    The total size is capped at ``limit`` bytes (decoded, so a gzip bomb stops there too)
    and, with a ``deadline``, each chunk checks the time left so a trickling server cannot
    hold the client past it.
    """

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        limit: int = DEFAULT_MAX_REPLY_BYTES,
        deadline: Deadline | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.limit = limit if status < 400 else min(limit, _ERROR_BODY_LIMIT)
        self.deadline = deadline
        self.size = 0
        # the body decides, not the content type (servers mislabel both ways): a JSON document
        # starts with "{" or "[", an SSE stream with a field name ("data:", ":", "event:")
        self.sse: bool | None = False if status >= 400 else None
        self._body = bytearray()
        self._line = bytearray()
        self._data: list[bytes] = []
        self._stream = _StreamState()

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes; raises the typed error as soon as the reply is known bad."""
        if self.deadline is not None and self.deadline.expired:
            raise APITimeoutError(
                f"the reply was still arriving when the deadline of {self.deadline.seconds:g} s "
                "ran out (timeout)"
            )
        self.size += len(chunk)
        if self.size > self.limit:
            if self.status >= 400:
                self._body += chunk[: max(0, self.limit - len(self._body))]
                raise self._error()  # enough of an error body to classify it: stop reading
            raise ReplyTooLargeError(
                f"the reply passed {self.limit / 1e6:g} MB (max_reply_bytes) and was abandoned"
            )
        if self.sse is None:
            head = (bytes(self._body) + chunk).lstrip()
            if not head:
                self._body += chunk
                return
            self.sse = not head.startswith((b"{", b"["))
            chunk, self._body = bytes(self._body) + chunk, bytearray()
        if not self.sse:
            self._body += chunk
            return
        self._line += chunk
        if b"\n" not in chunk:
            return
        *lines, rest = self._line.split(b"\n")
        self._line = bytearray(rest)
        for line in lines:
            self._sse_line(bytes(line).rstrip(b"\r"))

    def _sse_line(self, line: bytes) -> None:
        if not line:
            self._dispatch()
        elif line.startswith(b"data:"):
            self._data.append(line[5:].removeprefix(b" "))

    def _dispatch(self) -> None:
        if self._data:
            data, self._data = b"\n".join(self._data), []
            self._stream.event(data)

    def _error(self) -> APIError:
        body = _decode(bytes(self._body))
        text = bytes(self._body).decode("utf-8", "replace").strip()
        if body is None and text:
            body = {"error": {"message": text[:300]}}
        return classify_error(self.status, body, retry_after(self.headers))

    def finish(self, latency: float) -> Response:
        """The answer; raises the typed error when the reply is not a complete answer."""
        if self.status >= 400:
            raise self._error()
        if self.sse:
            if self._line:
                self._sse_line(bytes(self._line))
            self._dispatch()
            return self._stream.response(latency)
        return completion_from_body(_decode(bytes(self._body)), bytes(self._body), latency)


def _checked(response: Response) -> Response:
    error = error_for_finish_reason(response.finish_reason, response.usage)
    if error is not None:
        raise error
    return response


def completion_from_body(body: Any, raw: bytes, latency: float) -> Response:
    """A :class:`Response` from a (non-stream) chat-completion body, or the typed error."""
    if not isinstance(body, dict):
        text = raw.decode("utf-8", "replace").strip()
        raise ServerError(
            "the reply is not JSON" + (f": {text[:120]!r}" if text else " (empty body)")
        )
    if error_in_body(body):
        raise classify_error(200, body)
    choices = body.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(choice, dict):
        raise ServerError("the reply has no choices (not a chat completion)")
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    finish = choice.get("finish_reason")
    return _checked(
        Response(
            content=content_text(message.get("content")),
            reasoning=_reasoning_text(message),
            usage=Usage.from_api(body.get("usage")),
            latency=latency,
            finish_reason=finish if isinstance(finish, str) else None,
            model=str(body.get("model") or ""),
            raw=raw.decode("utf-8", "replace"),
            request_id=str(body.get("request_id") or body.get("id") or ""),
        )
    )


class _StreamState:
    """The answer an SSE chat stream has given so far."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.usage = Usage()
        self.finish_reason: str | None = None
        self.model = ""
        self.request_id = ""
        self.done = False

    def event(self, data: bytes) -> None:
        if data.strip() == b"[DONE]":
            self.done = True
            return
        chunk = _decode(data)
        if not isinstance(chunk, dict):
            return  # a comment or keep-alive
        if error_in_body(chunk):
            raise classify_error(None, chunk)
        self.model = str(chunk.get("model") or self.model)
        self.request_id = str(chunk.get("request_id") or chunk.get("id") or self.request_id)
        if chunk.get("usage"):
            self.usage = Usage.from_api(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            if isinstance(delta, dict):
                self.content.append(content_text(delta.get("content")))
                self.reasoning.append(_reasoning_text(delta))
            finish = choice.get("finish_reason")
            if isinstance(finish, str) and finish:
                self.finish_reason = finish

    def response(self, latency: float) -> Response:
        if not self.done and self.finish_reason is None:
            raise ServerError(
                "the stream ended before [DONE] or a finish_reason: the answer may be cut"
            )
        content, reasoning = "".join(self.content), "".join(self.reasoning)
        raw = json.dumps({"content": content, "reasoning": reasoning}, ensure_ascii=False)
        return _checked(
            Response(
                content,
                reasoning,
                self.usage,
                latency,
                self.finish_reason,
                self.model,
                raw,
                request_id=self.request_id,
            )
        )
