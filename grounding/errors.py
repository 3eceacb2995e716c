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
    "ServerError",
    "classify_error",
]


class GroundingError(Exception):
    """Root of every error this toolkit raises on purpose."""


class ConfigurationError(GroundingError):
    """A setting is missing or wrong (no API key, unknown provider); says what to set."""


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
    can succeed, ``retry_after`` the server's requested wait in seconds, if any.
    """

    retryable = False
    hint = ""

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
    message = error.get("message") or error.get("msg") or error.get("type")
    return (None if code is None else str(code)), (None if message is None else str(message))


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
    if cls is None:
        if status in (401, 403):
            cls = AuthenticationError
        elif status == 429:
            cls = RateLimitError
        elif status == 408:
            cls = APITimeoutError
        elif status is not None and status >= 500:
            cls = ServerError
        else:
            cls = BadRequestError
    return cls(message, status=status, code=code, retry_after=retry_after)
