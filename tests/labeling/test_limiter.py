"""The adaptive limit: it settles just below the provider's concurrency cap (fake clock)."""

from __future__ import annotations

import asyncio
import heapq
import random

import pytest

from grounding.errors import RateLimitError, ServerError
from grounding.labeling.limiter import PROBE_AT, AdaptiveLimit

REFUSED = RateLimitError("fixture: too many concurrent requests", status=429, code="1302")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def requests(limit: AdaptiveLimit, n: int) -> list[asyncio.Task[None]]:
    """``n`` tasks that each take a place and hold it until cancelled."""

    async def hold() -> None:
        async with limit:
            await asyncio.Event().wait()

    tasks = [asyncio.create_task(hold()) for _ in range(n)]
    await asyncio.sleep(0)
    return tasks


def in_task(call) -> None:
    """Run ``call`` from its own task, as the runner's requests do."""

    async def run() -> None:
        call()

    asyncio.get_running_loop().create_task(run())


def test_it_starts_below_the_cap_and_grows_until_the_first_refusal() -> None:
    clock = Clock()
    limit = AdaptiveLimit(64, clock=clock)
    assert limit.limit == 8
    for _ in range(16):
        clock.now += 0.05
        limit.success()
    assert limit.limit == 16  # one more per two answers
    assert AdaptiveLimit(4).limit == 2 and AdaptiveLimit(1).limit == 1


def test_a_refusal_sets_the_limit_to_what_the_server_was_serving() -> None:
    async def go() -> None:
        clock = Clock()
        limit = AdaptiveLimit(64, clock=clock)
        limit.limit = 20
        limit.round_trip = 0.5
        refuse = [asyncio.Event() for _ in range(20)]
        paced: list[bool] = []

        async def one(refused: asyncio.Event) -> None:
            async with limit:
                await refused.wait()
                paced.append(limit.slow_down())  # then it gives its place back

        tasks = [asyncio.create_task(one(event)) for event in refuse]
        await asyncio.sleep(0)
        limit.on_retry(ServerError("fixture: not a rate limit"))
        assert limit.limit == 20
        for event in refuse[:4]:  # four refusals of one burst
            clock.now += 0.01
            event.set()
            await asyncio.sleep(0.01)
        assert limit.limit == 16 and limit.rate_limited == 4  # those served, not 20 / 2**4
        assert paced == [True] * 4  # the others' answers pace the resends
        for task in tasks:
            task.cancel()

    asyncio.run(go())


def test_a_refusal_from_outside_the_limit_cuts_once_per_round_trip() -> None:
    clock = Clock()
    limit = AdaptiveLimit(64, clock=clock)
    limit.limit, limit.round_trip = 20, 0.5
    for _ in range(4):  # not in flight: it measures nothing, but says the limit is too high
        clock.now += 0.01
        assert not limit.slow_down()
    assert limit.limit == 19
    clock.now += 0.5
    limit.slow_down()
    assert limit.limit == 18


def test_a_refusal_for_too_many_at_once_goes_back_to_the_runner_others_are_retried() -> None:
    limit = AdaptiveLimit(64)
    limit.limit = 20
    with pytest.raises(RateLimitError):
        limit.on_retry(REFUSED)  # the runner gives the place back and queues it again
    with pytest.raises(RateLimitError):
        limit.on_retry(RateLimitError("fixture: too many", status=429))  # no reason given
    assert limit.limit == 20 and limit.rate_limited == 0  # the runner reports it
    limit.on_retry(RateLimitError("fixture: too frequent", status=429, code="1303"))
    assert limit.limit == 19 and limit.rate_limited == 1


def test_the_ceiling_is_remembered_and_probed_rarely() -> None:
    async def go() -> tuple[int, AdaptiveLimit]:
        clock = Clock()
        limit = AdaptiveLimit(64, clock=clock)
        limit.round_trip = 0.5
        limit.limit = 17
        held = await requests(limit, 17)
        limit.slow_down()
        assert limit.limit == 16
        probes = 0
        for _ in range(int(PROBE_AT * 3 * 0.5 / 0.05)):  # three probe periods of answers
            clock.now += 0.05
            before = limit.limit
            limit.success()
            if limit.limit > before:
                probes += 1
                limit.slow_down()  # the server still serves 16: the try is refused
        for task in held:
            task.cancel()
        return probes, limit

    probes, limit = asyncio.run(go())
    assert 2 <= probes <= 4
    assert limit.limit == 16 and limit.remembered == 16


def test_in_flight_never_passes_the_limit() -> None:
    limit = AdaptiveLimit(10)  # starts at 5

    async def go() -> int:
        seen = 0

        async def one() -> None:
            nonlocal seen
            async with limit:
                seen = max(seen, limit.in_flight)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(one() for _ in range(30)))
        return seen

    assert asyncio.run(go()) == 5


# --- recovery after the provider's cap changes: a simulated server on a fake clock ---------

LATENCY = 0.5  # the fixture server's time per request; the round-trip the targets count in


class World:
    """A fixture, not a provider: a fake clock and a server that serves ``cap`` requests at
    once for about ``LATENCY`` s each and refuses any more at once (like 429 code 1302), with
    64 workers that each take a place under the limit per request, as the runner does."""

    def __init__(self, cap: int) -> None:
        self.now = 0.0
        self.cap = cap
        self.serving = 0
        self.accepted = self.refused = 0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._jitter = random.Random(14)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + seconds, id(future), future))
        await future

    async def advance(self, until: float) -> None:
        while self._timers and self._timers[0][0] <= until:
            self.now, _, future = heapq.heappop(self._timers)
            future.set_result(None)
            await self.settle()
        self.now = until
        await self.settle()

    @staticmethod
    async def settle() -> None:
        for _ in range(30):  # the woken task runs, and those its release wakes
            await asyncio.sleep(0)

    async def ask(self, limit: AdaptiveLimit) -> None:
        """One image: refused requests give their place back and queue again (the runner's
        ``ask_patiently``), answered ones report success."""
        while True:
            async with limit:
                await self.sleep(0.002)  # the way to the server
                if self.serving >= self.cap:
                    self.refused += 1
                    await self.sleep(0.002)  # and the refusal's way back
                    limit.slow_down()
                    continue
                self.accepted += 1
                self.serving += 1
                await self.sleep(LATENCY + self._jitter.uniform(0, 0.05))
                self.serving -= 1
                limit.success()
                return


def simulate(phases: list[tuple[int, float]]) -> tuple[list[tuple[float, int]], list[int]]:
    """Run 64 workers while the server's cap follows ``phases`` (cap, seconds); return the
    limit sampled every 10 ms and the share of refusals per phase (in per mille)."""

    async def go() -> tuple[list[tuple[float, int]], list[int]]:
        world = World(phases[0][0])
        limit = AdaptiveLimit(64, clock=world)

        async def worker() -> None:
            while True:
                await world.ask(limit)

        workers = [asyncio.create_task(worker()) for _ in range(64)]
        samples, refused, start = [], [], 0.0
        for cap, seconds in phases:
            world.cap = cap
            world.accepted = world.refused = 0
            for step in range(1, int(seconds * 100) + 1):
                await world.advance(start + step / 100)
                samples.append((world.now, limit.limit))
            refused.append(1000 * world.refused // max(1, world.accepted + world.refused))
            start += seconds
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        return samples, refused

    return asyncio.run(go())


def round_trips_to_settle(samples: list[tuple[float, int]], cap: int, start: float, end: float) -> float:
    """Round-trips after ``start`` until the limit stays within 10% of ``cap`` (one probe
    above it allowed) up to ``end``; the benchmark's measure."""
    near = [abs(v - cap) <= 0.1 * cap or v == cap + 1 for t, v in samples if start <= t < end]
    times = [t for t, _ in samples if start <= t < end]
    for i in range(len(near) - 1, -1, -1):
        if not near[i]:
            return (times[i + 1] - start) / LATENCY if i + 1 < len(times) else float("inf")
    return 0.0


def test_after_the_cap_drops_and_rises_it_is_back_within_ten_percent_in_five_round_trips() -> None:
    phases = [(16, 10.0), (4, 8.0), (16, 8.0)]
    samples, refused = simulate(phases)
    assert round_trips_to_settle(samples, 16, 0.0, 10.0) <= 8  # from the start: slow start
    assert round_trips_to_settle(samples, 4, 10.0, 18.0) <= 5  # the cap drops 16 -> 4
    assert round_trips_to_settle(samples, 16, 18.0, 26.0) <= 5  # and rises 4 -> 16
    assert refused[0] <= 20  # at most 2% refused at a steady cap, the start included


def test_a_cap_that_stays_down_is_forgotten_and_probed_rarely_again() -> None:
    samples, _ = simulate([(16, 6.0), (4, 40.0)])
    assert round_trips_to_settle(samples, 4, 6.0, 46.0) <= 5
    late = [v for t, v in samples if t >= 36.0]
    assert set(late) <= {4, 5} and late.count(5) < len(late) / 10  # tries 5 only now and then


# --- the runner: a refused request gives its place back and is queued again ---------------


class Recording(AdaptiveLimit):
    """The adaptive limit, recording the runner's calls in order."""

    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.events: list[str] = []

    async def acquire(self) -> None:
        await super().acquire()
        self.events.append("take a place")

    async def release(self) -> None:
        self.events.append("give it back")
        await super().release()

    def slow_down(self) -> bool:
        paced = super().slow_down()
        self.events.append("refused" + (", paced" if paced else ""))
        return paced

    def success(self, *, cached: bool = False) -> None:
        self.events.append("answer")
        super().success(cached=cached)


def test_a_refused_request_gives_its_place_back_and_is_sent_again_once_one_frees(
    server, tmp_path
) -> None:
    from grounding import AsyncClient
    from grounding.client import RetryPolicy
    from grounding.labeling import JobStore, LabelJob, find_images, register, run_job
    from tests.labeling.conftest import detections, make_photos, per_image
    from tests.server import error

    make_photos(tmp_path / "photos", 2)
    # the first request is served for a while; the second is refused meanwhile (too many)
    server.script(detections(delay=0.5), error(429, "1302", "fixture: too many at once"))
    server.default = detections()
    slow = RetryPolicy(base_delay=30.0, max_delay=30.0)  # a retry inside would hold the place

    async def go() -> tuple[dict[str, int], Recording]:
        limit = Recording(4)  # two at once to begin with
        async with AsyncClient("openai", base_url=server.url, retry=slow, on_retry=limit.on_retry) as client:  # fmt: skip
            with JobStore(tmp_path / "job.sqlite") as store:
                register(store, find_images([str(tmp_path / "photos")]), None)
                job = LabelJob(classes=["scratch"], model="glm-4.5v", prompt="find {classes}",
                               transient_pause=30.0, deadline=10.0)  # fmt: skip
                await run_job(job, store, client, limit)
                return store.counts(), limit

    counts, limit = asyncio.run(go())
    assert counts["done"] == 2 and "pending" not in counts  # not left waiting for a pause
    assert len(per_image(server)) == 2 and len(server.chat_requests) == 3  # asked once more
    refused = limit.events.index("refused, paced")
    # sent again once the answer of the one being served frees a place under the new limit
    after = ["give it back", "answer", "give it back", "take a place", "answer", "give it back"]
    assert limit.events[refused + 1 :] == after
    assert limit.rate_limited == 1
