"""How many requests may be in flight: a limit that settles at the provider's concurrency cap.

A provider that caps concurrent requests answers every request beyond its cap with a rate
limit (Z.AI: 429, code 1302) at once. The limit here:

- starts below ``cap`` (the user's ``-k``) and grows by one per two answers, half as much
  again every round-trip, until the first rate limit (doubling would overshoot by up to the
  whole capacity in one burst of refusals);
- on a refusal for too many at once, becomes the number of our requests the server was
  serving at that moment (those in flight less those refused): an upper bound of its cap, as
  each of ours is still counted until its answer is read. The first refusal of a round-trip
  lowers it by at least one. The refused request gives its place back at once (the client
  does not retry it inside its place: :meth:`AdaptiveLimit.on_retry`), so the lower limit
  holds from the next request on, and the request is sent again when an answer frees a place
  under it, the way TCP's acknowledgements pace what it sends;
- remembers the highest level that held a whole round-trip. Below it (the provider lowered
  its cap for a while) it tries one request more every :data:`PROBE_BELOW` round-trips and,
  when that one holds a round-trip, returns to the remembered level at once (a cap that came
  back is found within about three round-trips; one that did not costs a burst of refusals
  once); after :data:`FORGET_AFTER` failed tries the level is forgotten. At the remembered
  level it tries one more only every :data:`PROBE_AT` round-trips, since each failed try
  costs one refused request; a try that holds is followed by larger ones, a round-trip apart.

>>> limit = AdaptiveLimit(64)
>>> limit.limit
8
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from grounding.errors import APIError, RateLimitError

__all__ = ["FORGET_AFTER", "PROBE_AT", "PROBE_BELOW", "AdaptiveLimit", "concurrency_refusal"]

PROBE_BELOW = 2  # round-trips between tries while below the remembered level
PROBE_AT = 8  # round-trips between tries at (or above) the remembered level
FORGET_AFTER = 16  # failed tries below the remembered level (32 round-trips) to forget it
_FIRST_ROUND_TRIP = 1.0  # seconds, until a request has been timed


class AdaptiveLimit:
    """How many requests may be in flight: at most ``cap``; see the module docstring.

    The runner takes a place (``async with limit``, or :meth:`acquire` / :meth:`release`)
    around each request, and inside it calls :meth:`success` after an answer or
    :meth:`slow_down` after a rate limit; :meth:`on_retry` is the client's retry hook.
    Requests are told apart by their asyncio task. ``clock`` is for tests.
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
        self._round_end: float | None = None  # the round-trip after a cut
        self._last_refusal = -1e9
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
        """The client's retry hook. A refusal for too many requests at once is raised back
        to the caller instead of being retried (it would keep its place while the client
        waits, and the lower limit could not take effect until it came back): the runner
        gives the place back and queues the request again. Other rate limits lower the
        limit and are retried by the client."""
        if not isinstance(error, RateLimitError):
            return
        if concurrency_refusal(error):
            raise error
        self.slow_down()

    def slow_down(self) -> bool:
        """A request was refused for a rate limit: the limit becomes the number of requests
        of ours the server was serving at that moment (those in flight less those refused,
        this one included), and drops by at least one on the first refusal of a round-trip.
        Returns whether any were being served: then their answers pace the resend (it waits
        for a place under the new limit); if none were, only a pause can."""
        task = _task()
        now = self._clock()
        rtt = self._rtt()
        if self._round_end is not None and now >= self._round_end:
            self._round_end = None
        self.rate_limited += 1
        self._last_refusal = now
        if task in self._started:  # in flight (not when the hook runs in another task)
            self._refused[task] = now
            self._retried.add(task)
        if self._probe_started is not None:  # the try failed
            self._probe_started = None
            self._step = 1
            if self.limit <= self.remembered:
                self._failed_probes += 1
                if self._failed_probes >= FORGET_AFTER:  # it is not coming back
                    self.remembered = self.limit - 1
                    self._failed_probes = 0
        self._found = True
        waiting = sum(1 for at in self._refused.values() if now - at < rtt / 2)
        serving = self.in_flight - waiting
        # measured only by a request under the limit (not one from outside it)
        measured = serving if task in self._started else self.cap
        if self._round_end is None:  # the first refusal of a round-trip
            self._step = 1
            self.limit = max(1, min(self.limit - 1, measured))
            self._round_end = now + rtt
        else:  # sent under the same limit: only what it measures
            self.limit = max(1, min(self.limit, measured))
        self._next_probe = now + self._probe_every() * rtt
        return serving > 0

    def success(self, *, cached: bool = False) -> None:
        """An answer came back for this task (``cached``: from the cache, not the server)."""
        task = _task()
        now = self._clock()
        self._refused.pop(task, None)
        if cached:
            return
        started = self._started.get(task)
        if started is not None and task not in self._retried:
            took = now - started
            self.round_trip = (
                took if self.round_trip is None else 0.8 * self.round_trip + 0.2 * took
            )
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
            self._probe_started = None
            self._failed_probes = 0
            if self.limit < self.remembered:  # the provider's cap is back up: so are we
                self._grow(self.remembered)
                self._next_probe = now + PROBE_AT * rtt
            else:  # above anything seen: keep trying, in growing steps
                self.remembered = self.limit
                self._step *= 2
                self._next_probe = now + rtt

    # --- internals ------------------------------------------------------------------------

    def _rtt(self) -> float:
        return self.round_trip if self.round_trip is not None else _FIRST_ROUND_TRIP

    def _probe_every(self) -> int:
        return PROBE_BELOW if self.limit < self.remembered else PROBE_AT

    def _grow(self, to: int) -> None:
        """Raise the limit; waiters see it at the next :meth:`release` (which follows every
        :meth:`success` in the runner)."""
        self.limit = min(self.cap, max(self.limit, to))


def concurrency_refusal(error: RateLimitError) -> bool:
    """Refused for too many requests at once: Z.AI / BigModel's code 1302, or a 429 that
    names no reason (a gateway's cap on connections)."""
    return error.code in ("1302", None)


def _task() -> object:
    try:
        return asyncio.current_task() or "main"
    except RuntimeError:
        return "main"
