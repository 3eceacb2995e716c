"""The adaptive limit: it settles just below the provider's concurrency cap (fake clock)."""

from __future__ import annotations

import asyncio

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


def test_a_refusal_sets_the_limit_just_below_the_number_in_flight_once_per_round_trip() -> None:
    async def go() -> None:
        clock = Clock()
        limit = AdaptiveLimit(64, clock=clock)
        limit.limit = 20
        limit.round_trip = 0.5
        held = await requests(limit, 20)
        limit.on_retry(ServerError("fixture: not a rate limit"))
        assert limit.limit == 20
        for _ in range(4):  # four refusals of the same burst
            clock.now += 0.01
            limit.on_retry(REFUSED)
        assert limit.limit == 19 and limit.rate_limited == 4  # once: not halved four times
        clock.now += 0.2
        for _ in range(16):  # the server answers 16 in that round-trip
            limit.success()
        clock.now += 0.4
        limit.success()  # the round-trip is over and refusals went on: 16 is what it serves
        assert limit.limit == 16
        for task in held:
            task.cancel()

    asyncio.run(go())


def test_the_ceiling_is_remembered_and_probed_rarely() -> None:
    async def go() -> tuple[int, AdaptiveLimit]:
        clock = Clock()
        limit = AdaptiveLimit(64, clock=clock)
        limit.round_trip = 0.5
        limit.limit = 17
        held = await requests(limit, 17)
        limit.on_retry(REFUSED)
        assert limit.limit == 16
        probes = 0
        for _ in range(int(PROBE_AT * 3 * 0.5 / 0.05)):  # three probe periods of answers
            clock.now += 0.05
            before = limit.limit
            limit.success()
            if limit.limit > before:
                probes += 1
                limit.on_retry(REFUSED)  # the server still serves 16: the try is refused
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
