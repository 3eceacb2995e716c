"""How many requests may be in flight: a limit that settles at the provider's concurrency cap.

A provider that caps concurrent requests answers every request beyond its cap with a rate
limit (Z.AI: 429, code 1302) at once. The limit here:

- starts below ``cap`` (the user's ``-k``) and grows by one per two answers, half as much
  again every round-trip, until the first rate limit (doubling would overshoot by up to the
  whole capacity in one burst of refusals);
- on a rate limit, drops to the number of requests the server was serving at that moment
  (those in flight minus those rejected), once per round-trip: the rejections that follow
  within that round-trip were sent under the old limit and say nothing new;
- remembers the highest level that worked. Below it (the provider lowered its cap for a
  while) it tries one request more every :data:`PROBE_BELOW` round-trips and, when that one
  is not rejected, returns to the remembered level at once; at it, it tries one more only
  every :data:`PROBE_AT` round-trips, since each failed try costs one rejected request.

>>> limit = AdaptiveLimit(64)
>>> limit.limit
8
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from grounding.errors import APIError, RateLimitError

__all__ = ["PROBE_AT", "PROBE_BELOW", "AdaptiveLimit"]

PROBE_BELOW = 2  # round-trips between tries while below the remembered level
PROBE_AT = 8  # round-trips between tries at (or above) the remembered level
FORGET_AFTER = 8  # failed tries below the remembered level before it is forgotten
_FIRST_ROUND_TRIP = 1.0  # seconds, until a request has been timed


class AdaptiveLimit:
    """How many requests may be in flight: at most ``cap``; see the module docstring.

    The runner calls :meth:`acquire` / :meth:`release` around each image, :meth:`success`
    after an answer, :meth:`slow_down` when a rate limit outlasted the client's retries, and
    passes :meth:`on_retry` to the client as its retry hook. Requests are told apart by their
    asyncio task. ``clock`` is for tests.
    """

    def __init__(self, cap: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cap = max(1, cap)
        self.limit = max(1, min(self.cap // 2, 8))
        self.in_flight = 0
        self.rate_limited = 0
        self.round_trip: float | None = None  # seconds, a moving average of clean requests
        self.remembered = 0  # the highest level that went a whole round-trip unrefused
        self._clock = clock
        self._found = False  # a rate limit has been seen: growth is by probes from now on
        self._started: dict[object, float] = {}
        self._refused: dict[object, float] = {}  # in flight, refused at (waiting to be resent)
        self._retried: set[object] = set()  # not timed: their time includes waiting
        self._credit = 0
        self._round_end: float | None = None  # the round-trip after a cut, being measured
        self._round_answers = 0
        self._round_refusals = 0
        self._last_refusal = -1e9
        self._refused_level = self.cap + 1  # the lowest level refused since the last cut
        self._next_probe = 0.0
        self._probe_started: float | None = None
        self._step = 1
        self._failed_probes = 0
        self._changed = asyncio.Condition()

    # --- the runner's calls -------------------------------------------------------------

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            self._started[_task()] = self._clock()

    async def __aenter__(self) -> AdaptiveLimit:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    async def release(self) -> None:
        task = _task()
        async with self._changed:
            self.in_flight -= 1
            self._started.pop(task, None)
            self._refused.pop(task, None)
            self._retried.discard(task)
            self._changed.notify_all()

    def on_retry(self, error: APIError) -> None:
        """The client's retry hook: a rate limit lowers the limit."""
        if isinstance(error, RateLimitError):
            self.slow_down()

    def slow_down(self) -> None:
        """A request was refused for a rate limit. The first refusal of a round-trip sets the
        limit just below the number in flight (less those refused moments ago, waiting to be
        sent again); at the end of that round-trip, if refusals went on, the limit becomes
        the number of answers the server gave in it: what it can serve at once."""
        task = _task()
        now = self._clock()
        rtt = self._rtt()
        self._close_round(now)
        self.rate_limited += 1
        self._last_refusal = now
        if task in self._started:  # in flight (the runner also reports after its own wait)
            self._refused[task] = now
            self._retried.add(task)
        if self._probe_started is not None:  # the try failed
            self._probe_started = None
            self._step = 1
            self._failed_probes += 1
            if self._failed_probes >= FORGET_AFTER:
                self.remembered = min(self.remembered, self.limit - 1)  # it is not coming back
        self._found = True
        if self._round_end is None:
            self._refused_level = self.limit
            self._step = 1
            waiting = sum(1 for at in self._refused.values() if now - at < rtt / 2)
            self.limit = max(1, min(self.limit - 1, self.in_flight - waiting))
            self._round_end = now + rtt
            self._round_answers, self._round_refusals = 0, 1
        else:
            self._round_refusals += 1
        self._next_probe = now + self._probe_every() * rtt

    def success(self, *, cached: bool = False) -> None:
        """An answer came back for this task (``cached``: from the cache, not the server)."""
        task = _task()
        now = self._clock()
        self._refused.pop(task, None)
        if cached:
            return
        self._close_round(now)
        started = self._started.get(task)
        if started is not None and task not in self._retried:
            took = now - started
            self.round_trip = (
                took if self.round_trip is None else 0.8 * self.round_trip + 0.2 * took
            )
        if self._round_end is not None:
            self._round_answers += 1
            return
        if not self._found:  # slow start: one more per two answers, x1.5 per round-trip
            self._credit += 1
            if self._credit >= 2:
                self._credit = 0
                self._grow(self.limit + 1)
            return
        rtt = self._rtt()
        if self._probe_started is None:
            if now >= self._last_refusal + rtt:
                self.remembered = max(self.remembered, self.limit)
            if now >= self._next_probe and self.limit < self.cap:
                self._probe_started = now
                self._grow(self.limit + (1 if self.limit < self.remembered else self._step))
        elif now >= self._probe_started + rtt:  # a whole round-trip at the higher level
            self._failed_probes = 0
            if self.limit < self._refused_level:  # only found the level again: no news
                self._probe_started = None
                self._next_probe = now + PROBE_BELOW * rtt
            elif self.limit < self.remembered:  # served where it refused: double, try again
                self._probe_started = now
                self._refused_level = self.limit + 1
                self._grow(min(self.remembered, 2 * self.limit))
            else:  # above anything seen: keep trying, in growing steps
                self._probe_started = None
                self.remembered = self.limit
                self._step *= 2
                self._next_probe = now + rtt

    # --- internals ------------------------------------------------------------------------

    def _close_round(self, now: float) -> None:
        if self._round_end is None or now < self._round_end:
            return
        if self._round_refusals > 1:  # refused all along: the answers measure the capacity
            # refused at this limit, or at the number in flight when waiting ones exceed it
            self._refused_level = min(self._refused_level, max(self.limit, self.in_flight))
            self.limit = max(1, min(self.limit, self._round_answers))
        self._round_end = None

    def _rtt(self) -> float:
        return self.round_trip if self.round_trip is not None else _FIRST_ROUND_TRIP

    def _probe_every(self) -> int:
        return PROBE_BELOW if self.limit < self.remembered else PROBE_AT

    def _grow(self, to: int) -> None:
        """Raise the limit; waiters see it at the next :meth:`release` (which follows every
        :meth:`success` in the runner)."""
        self.limit = min(self.cap, max(self.limit, to))


def _task() -> object:
    try:
        return asyncio.current_task() or "main"
    except RuntimeError:
        return "main"
