"""The exception tree, and how a provider's error reply maps onto it.

``GroundingError`` is the root. API failures are classified by the business code in the body
(Z.AI / BigModel send ``{"error": {"code": "1302", ...}}``, sometimes inside an HTTP 200),
not by the HTTP status alone: HTTP 429 covers both "slow down" and "your account is in
arrears". Each error says whether a retry can help.

>>> err = classify_error(429, {"error": {"code": "1113", "message": "Insufficient balance"}})
>>> type(err).__name__, err.retryable
('AccountError', False)
>>> classify_error(429, {"error": {"code": "1302", "message": "Too many"}}).retryable
True
>>> quota = {"error": {"code": "insufficient_quota", "message": "You exceeded your quota"}}
>>> type(classify_error(429, quota)).__name__
'QuotaExceededError'
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AccountError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ContentBlockedError",
    "GroundingError",
    "ImageError",
    "QuotaExceededError",
    "RateLimitError",
    "ReplyTooLargeError",
    "ServerError",
    "classify_error",
    "error_for_finish_reason",
]


class GroundingError(Exception):
    """Root of every error this toolkit raises on purpose."""


class ConfigurationError(GroundingError):
    """A setting is missing or wrong (no API key, unknown provider); says what to set,
    in words for both library users (arguments) and CLI users (options)."""


class ImageError(GroundingError):
    """An image could not be used; the message names the file and the reason."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class APIError(GroundingError):
    """The model API refused or failed a request.

    ``code`` is the provider's business code (a string, as sent), ``status`` the HTTP status
    (None for errors that arrive inside a stream), ``retryable`` whether trying again later
    can succeed, ``retry_after`` the server's requested wait in seconds, if any. ``usage`` is
    the reply's :class:`~grounding.Usage` when the provider billed it (a blocked answer).
    """

    retryable = False
    hint = ""
    usage: Any = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"HTTP {self.status}" if self.status else "",
                f"code {self.code}" if self.code else "",
            )
            if part
        )
        text = f"{self.message} ({where})" if where else self.message
        return f"{text}. {self.hint}" if self.hint else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, code={self.code!r})"

    def amend(self, note: str) -> APIError:
        """Add a note to the message (why no retry followed); returns self."""
        self.message = f"{self.message}; {note}"
        self.args = (self._describe(),)
        return self

    def redact(self, *secrets: str | None) -> APIError:
        """Remove each secret (an API key a server echoed back) from the message; returns self."""
        message = self.message
        for secret in secrets:
            if secret and len(secret) >= 4:
                message = message.replace(secret, "***")
        if message != self.message:
            self.message = message
            self.args = (self._describe(),)
        return self


class AuthenticationError(APIError):
    """The key is missing, invalid or expired (codes 1000-1004, HTTP 401/403)."""

    hint = "Check the API key (--api-key, ZAI_API_KEY, ZHIPUAI_API_KEY or OPENAI_API_KEY)."


class AccountError(APIError):
    """The account cannot be used: in arrears (1113), inactive, locked (1110-1121)."""

    hint = (
        "Fix the account on the provider's console (recharge for code 1113); nothing was retried."
    )


class QuotaExceededError(APIError):
    """A daily quota or usage cap is reached (1304, 1308, 1310): stop until it resets."""

    hint = "Wait for the quota to reset or raise the cap."


class RateLimitError(APIError):
    """Too many requests or concurrent requests, or the model is overloaded: retry later."""

    retryable = True


class ContentBlockedError(APIError):
    """The provider's safety filter blocked the input or the answer (1301, ``sensitive``)."""


class ReplyTooLargeError(APIError):
    """The reply grew past ``max_reply_bytes`` (a broken or hostile server): not retried."""

    hint = "Raise max_reply_bytes if this server really sends replies this large."


class BadRequestError(APIError):
    """The request itself is wrong (bad parameters, unknown model, prompt too long)."""


class ServerError(APIError):
    """The provider failed internally (HTTP 5xx, code 500/1234): retry."""

    retryable = True


class APITimeoutError(APIError):
    """No answer within the timeout: retry, or raise ``timeout`` for slow servers."""

    retryable = True


class APIConnectionError(APIError):
    """The endpoint could not be reached (refused, reset, DNS): retry, then check the URL.

    ``unreachable`` is True when no connection was made at all (nothing listening, no route),
    as opposed to a connection dropped mid-request.
    """

    retryable = True
    hint = "Check --base-url / GROUNDING_BASE_URL and that the server is running."

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        self.unreachable = unreachable
        super().__init__(message)


# business code -> error class (1120 is special-cased below: retry with a long backoff)
_CODES: dict[int, type[APIError]] = {
    **dict.fromkeys(range(1000, 1005), AuthenticationError),
    **dict.fromkeys(range(1110, 1122), AccountError),
    **dict.fromkeys(range(1210, 1216), BadRequestError),
    1261: BadRequestError,
    1301: ContentBlockedError,
    1302: RateLimitError,
    1303: RateLimitError,
    1304: QuotaExceededError,
    1305: RateLimitError,
    1308: QuotaExceededError,
    1310: QuotaExceededError,
    1312: RateLimitError,
    500: ServerError,
    1234: ServerError,
}
SLOW_RETRY_CODES = frozenset({"1120", "1305", "1312"})  # overloaded: back off for longer

# OpenAI-style string codes (also sent as ``type``), as documented in OpenAI's error-code guide
# and sent by OpenAI-compatible servers: a quota that is used up is not a rate limit
_STRING_CODES: dict[str, type[APIError]] = {
    "insufficient_quota": QuotaExceededError,
    "billing_hard_limit_reached": QuotaExceededError,
    "rate_limit_exceeded": RateLimitError,
    "context_length_exceeded": BadRequestError,
    "model_context_window_exceeded": BadRequestError,
    "invalid_api_key": AuthenticationError,
    "authentication_error": AuthenticationError,
    "model_not_found": BadRequestError,
    "invalid_request_error": BadRequestError,
    "content_filter": ContentBlockedError,
    "server_error": ServerError,
    "overloaded_error": RateLimitError,
}


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from the error shapes seen in the wild (Z.AI, OpenAI, vLLM)."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error", body if body.get("object") == "error" else None)
    if isinstance(error, str):
        return None, error
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    if code in (None, "") and isinstance(error.get("type"), str) and error["type"] in _STRING_CODES:
        code = error["type"]  # OpenAI sometimes carries the reason in ``type`` only
    message = error.get("message") or error.get("msg") or error.get("type")
    code_text = None if code is None or code == "" else str(code)
    return code_text, (None if message is None else str(message)[:500])


def error_in_body(body: Any) -> bool:
    """True when a reply (even an HTTP 200, or a stream chunk) carries an error object."""
    return _error_fields(body) != (None, None)


def classify_error(status: int | None, body: Any, retry_after: float | None = None) -> APIError:
    """The typed error for an HTTP status and decoded body; the business code wins."""
    code, message = _error_fields(body)
    message = message or (f"HTTP {status}" if status else "the API reported an error")
    cls: type[APIError] | None = None
    if code is not None and code.isdigit():
        number = int(code)
        cls = _CODES.get(number)
        if number == 1120:
            cls = ServerError  # "temporarily unreachable": retry with a long backoff
        elif cls is None and 400 <= number < 600 and status in (None, 200):
            cls = _by_status(number)  # vLLM: {"code": 400} inside a 200 or a stream
    elif code is not None:
        cls = _STRING_CODES.get(code.lower())
    if cls is None:
        # an error object in a 200 or inside a stream, with no code to go by: the server failed
        cls = ServerError if status in (None, 200) else _by_status(status)
    return cls(message, status=status, code=code, retry_after=retry_after)


def _by_status(status: int | None) -> type[APIError]:
    """The error class an HTTP status alone suggests (no business code to go by)."""
    if status in (401, 403):
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status == 408:
        return APITimeoutError
    if status is not None and status >= 500:
        return ServerError
    return BadRequestError


def error_for_finish_reason(reason: str | None, usage: Any = None) -> APIError | None:
    """The error a ``finish_reason`` means, or None when the answer can be used.

    ``sensitive`` / ``content_filter``: blocked (usage kept, the provider bills it);
    ``network_error``: BigModel's "model inference failed", transient; a context-window
    overflow: a bad request. Unknown reasons (``abort``, ``error``) are treated as transient
    server failures rather than taken as an answer.
    """
    if reason is None or reason in ("stop", "eos", "end_turn", "stop_sequence", "tool_calls",
                                    "function_call", "length", "max_tokens"):  # fmt: skip
        return None
    error: APIError
    if reason in ("sensitive", "content_filter"):
        error = ContentBlockedError(
            f"the provider's safety filter blocked the answer (finish_reason {reason!r})",
            code="1301" if reason == "sensitive" else reason,
        )
    elif reason in ("model_context_window_exceeded", "context_length_exceeded"):
        error = BadRequestError(
            f"the image and prompt do not fit the model's context window (finish_reason "
            f"{reason!r}); send a smaller image (max_pixels) or a shorter prompt"
        )
    elif reason == "network_error":
        error = ServerError("the provider reports that model inference failed (network_error)")
    else:
        error = ServerError(f"the server ended the answer with finish_reason {reason!r}")
    error.usage = usage
    return error
