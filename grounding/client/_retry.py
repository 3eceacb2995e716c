"""The retry policy and the per-request deadline that bounds it.

``timeout`` is the total time one request may take across all its attempts and waits: a hung
endpoint costs one ``timeout``, not one per retry, and a ``Retry-After`` longer than the time
left ends the request at once instead of sleeping past the deadline.

>>> policy = RetryPolicy(max_retries=2)
>>> from grounding.errors import RateLimitError
>>> policy.should_retry(0, RateLimitError("busy")), policy.should_retry(2, RateLimitError("busy"))
(True, False)
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from grounding.errors import SLOW_RETRY_CODES, APIConnectionError, APIError

__all__ = ["Deadline", "RetryPolicy"]


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


class Deadline:
    """The end of one request's time budget (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0
