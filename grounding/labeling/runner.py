"""The labeling pipeline: find -> prepare image -> request -> parse -> store, asynchronously.

A hard cap on requests in flight (default 4) that adapts: halved on rate limits (1302, 1305,
429), one more after a run of successes. Per-image problems (unreadable image, blocked content,
an unparseable answer after one retry) are recorded and the job goes on; fatal ones
(authentication, arrears, quota, nothing listening) stop scheduling at once, keeping every
finished image.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grounding.client import AsyncClient
from grounding.errors import (
    AccountError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentBlockedError,
    GroundingError,
    ImageError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from grounding.images import PreparedImage
from grounding.labeling.cost import Price
from grounding.labeling.inputs import Item, in_shard
from grounding.labeling.limiter import AdaptiveLimit
from grounding.labeling.store import JobStore, Row
from grounding.result import Grounding

__all__ = ["AdaptiveLimit", "JobStats", "LabelJob", "run_job"]

FATAL = (AuthenticationError, AccountError, QuotaExceededError)


@dataclass
class JobStats:
    """What a run did; the progress bar and the summary read it."""

    total: int = 0
    done: int = 0
    failed: int = 0
    blocked: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    in_flight_cost: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    stopped: str | None = None  # why scheduling stopped early
    fatal: bool = False

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.blocked


@dataclass
class LabelJob:
    """What to ask and how."""

    classes: list[str]
    model: str
    prompt: str
    concurrency: int = 4
    retry_failed: bool = False
    shard: tuple[int, int] | None = None
    max_cost: float | None = None
    price: Price | None = None
    estimate: Callable[[Row], tuple[int, int]] | None = None  # (prompt, completion) tokens
    previews: int = 0
    preview_dir: Path | None = None
    transient_rounds: int = 3  # after the client's own retries, ask again this many times
    transient_pause: float = 5.0  # seconds before each of those rounds (doubling)


def register(store: JobStore, items: Iterable[Item], shard: tuple[int, int] | None) -> int:
    """Stream the found images into the store (this shard's only); returns how many were new."""
    return store.add(item for item in items if in_shard(item.key, shard))


_NUMERIC_START = re.compile(r"[\[{(<]\s*[-+]?\d")


def _unparseable(result: Grounding) -> bool:
    """Nothing was read, yet the answer tried to give coordinates (a cut-off list, a group of
    three numbers). ``[]`` or "no scratches" are answers: an image without objects."""
    if not result.is_empty or result.response is None:
        return False
    if result.response.finish_reason == "length":
        return True
    return bool(_NUMERIC_START.search(result.response.answer()[0]))


async def run_job(
    job: LabelJob,
    store: JobStore,
    client: AsyncClient,
    limit: AdaptiveLimit,
    on_progress: Callable[[JobStats], None] | None = None,
) -> JobStats:
    """Label every pending image of ``store`` (and failed ones with ``retry_failed``)."""
    statuses = ("pending", "failed") if job.retry_failed else ("pending",)
    stats = JobStats(total=sum(store.counts().get(s, 0) for s in statuses))
    previews_left = job.previews
    queue: asyncio.Queue[Row | None] = asyncio.Queue(maxsize=limit.cap * 2)

    def report() -> None:
        if on_progress:
            on_progress(stats)

    async def produce() -> None:
        for row in store.rows(*statuses):
            if stats.stopped:
                break
            expected = guess(row)
            if job.max_cost is not None and job.price is not None:
                if stats.cost + stats.in_flight_cost + expected > job.max_cost:
                    stats.stopped = (
                        f"stopped scheduling at the cost limit {job.price.show(job.max_cost)} "
                        f"(spent about {job.price.show(stats.cost)}); rerun with a higher "
                        "--max-cost to continue"
                    )
                    break
                stats.in_flight_cost += expected
            await queue.put(row)
        for _ in range(limit.cap):
            await queue.put(None)

    async def work() -> None:
        while (row := await queue.get()) is not None:
            if stats.stopped and stats.fatal:
                continue
            await label_one(row)  # the limit covers the requests alone: see ask()
            report()

    def guess(row: Row) -> float:
        if job.max_cost is None or job.price is None or job.estimate is None:
            return 0.0
        return job.price.cost(*job.estimate(row))

    async def label_one(row: Row) -> None:
        nonlocal previews_left
        expected = guess(row)
        try:
            prepared = await client.prepare(row.source, model=job.model)
            result = await ask_patiently(prepared)
            if _unparseable(result):
                result = await ask(prepared, use_cache=False)
                if _unparseable(result):
                    raise _Unparseable(result)
        except FATAL as exc:
            stats.stopped, stats.fatal = f"{type(exc).__name__}: {exc}", True
        except APIConnectionError as exc:
            if exc.unreachable:
                stats.stopped, stats.fatal = f"{type(exc).__name__}: {exc}", True
            else:
                fail(row, "failed", f"transient: {exc}")
        except ContentBlockedError as exc:
            fail(row, "blocked", f"blocked: {exc}")
        except ImageError as exc:
            fail(row, "failed", f"image: {exc.reason}")
        except _Unparseable as exc:
            response = exc.result.response
            fail(
                row,
                "failed",
                "unparseable answer after a retry",
                response.content if response else None,
            )
        except BadRequestError as exc:
            fail(row, "failed", f"request: {exc}")
        except (APIError, GroundingError) as exc:
            fail(row, "failed", f"transient: {type(exc).__name__}: {exc}")
        else:
            response = result.response
            usage = asdict(response.usage) if response else None
            store.finish(row.key, status="done", response=response.content if response else None,
                         result=result.to_dict(), usage=usage, size=result.image_size)  # fmt: skip
            stats.done += 1
            if response is not None and not response.cached:
                stats.prompt_tokens += response.usage.prompt_tokens
                stats.completion_tokens += response.usage.completion_tokens
                if job.price:
                    stats.cost += job.price.cost(
                        response.usage.prompt_tokens, response.usage.completion_tokens
                    )
            if previews_left > 0 and job.preview_dir is not None:
                previews_left -= 1
                await asyncio.to_thread(_preview, row, result, job.preview_dir)
        finally:
            stats.in_flight_cost = max(0.0, stats.in_flight_cost - expected)

    async def ask_patiently(prepared: PreparedImage) -> Grounding:
        """A storm of rate limits or a flaky server delays an image; it does not fail it."""
        for round_ in range(job.transient_rounds + 1):
            try:
                return await ask(prepared)
            except (RateLimitError, ServerError, APITimeoutError) as exc:
                if round_ == job.transient_rounds or stats.stopped:
                    raise
                if isinstance(exc, RateLimitError):
                    limit.slow_down()
                await asyncio.sleep(job.transient_pause * 2**round_)
        raise AssertionError("unreachable")

    async def ask(prepared: PreparedImage, use_cache: bool = True) -> Grounding:
        """One request, holding a place under the adaptive limit only while it is sent."""
        async with limit:
            result = await client.ask(prepared, job.prompt, model=job.model, use_cache=use_cache)
            limit.success(cached=result.response is not None and result.response.cached)
            return result

    def fail(row: Row, status: str, reason: str, response: str | None = None) -> None:
        store.finish(row.key, status=status, error=reason, response=response)
        if status == "blocked":
            stats.blocked += 1
        else:
            stats.failed += 1

    await asyncio.gather(produce(), *(work() for _ in range(limit.cap)))
    report()
    return stats


class _Unparseable(GroundingError):
    def __init__(self, result: Grounding) -> None:
        super().__init__("unparseable answer")
        self.result = result


def _preview(row: Row, result: Grounding, folder: Path) -> None:
    from grounding.annotate import annotate

    target = folder / (row.key if not row.key.startswith("http") else row.key.rsplit("/", 1)[-1])
    target = target.with_suffix(".jpg")
    target.parent.mkdir(parents=True, exist_ok=True)
    annotate(row.source, result).save(target, quality=85)
