"""The labeling pipeline: find -> prepare image -> request -> parse -> store, asynchronously.

A hard cap on requests in flight (default 4) that adapts to the provider's concurrency cap
(:mod:`grounding.labeling.limiter`); it covers the requests alone, not reading the images.
Rate limits only delay an image: it waits as long as the storm lasts (or until the job's
``deadline``, when it stays pending). Every per-image problem (a file that is not readable,
a link loop, blocked content, an answer the parser cannot use even when asked again) is
recorded and the job goes on. Fatal API errors (authentication, arrears, quota, nothing
listening) stop scheduling at once, keeping every finished image; so does a store that
cannot be written (disk full), reported in ``JobStats.fault``.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from grounding import prompts
from grounding.client import AsyncClient, Response
from grounding.confidence import LogprobsUnavailableError
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
from grounding.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageSource,
    PreparedImage,
    prepare_as_is,
    prepare_image,
)
from grounding.labeling.cost import Price
from grounding.labeling.inputs import Item, file_problem, in_shard
from grounding.labeling.limiter import AdaptiveLimit
from grounding.labeling.store import JobStore, Row, StoreError
from grounding.profiles import get_profile
from grounding.result import Grounding
from grounding.tiling import Tiling, aground_tiled

__all__ = ["AdaptiveLimit", "JobStats", "LabelJob", "run_job"]

# LogprobsUnavailableError: the server will answer every image the same way
FATAL = (AuthenticationError, AccountError, QuotaExceededError, LogprobsUnavailableError)
_DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EIO}


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
    fatal: bool = False  # a fatal API error (see ``unreachable``)
    unreachable: bool = False  # the fatal error was: nothing listens at the base URL
    fault: str | None = None  # the store or the disk failed: one line naming the file

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
    transient_rounds: int = 3  # server errors, timeouts: ask again this many times, then fail
    transient_pause: float = 5.0  # seconds before each of those rounds (doubling)
    rate_limit_pause: float = 60.0  # the longest wait between rounds of rate limits
    deadline: float | None = None  # seconds from the start; then stop, leaving the rest pending
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS  # the decompression-bomb guard
    tiling: Tiling | None = None  # ask each tile as an image of its own, then merge


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


class _Unusable(GroundingError):
    """An answer that gives nothing to store: unparseable, or the parser failed on it."""

    def __init__(self, response: Response, why: str) -> None:
        super().__init__(why)
        self.response = response
        self.why = why


class _Stopped(Exception):
    """The job stopped (deadline, fatal error) while this image waited: it stays pending."""


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
    deadline = None if job.deadline is None else time.monotonic() + job.deadline
    previews_left = job.previews
    queue: asyncio.Queue[Row | None] = asyncio.Queue(maxsize=limit.cap * 2)

    def report() -> None:
        if on_progress:
            on_progress(stats)

    def past_deadline() -> bool:
        if deadline is None or time.monotonic() < deadline:
            return False
        if not stats.stopped:
            stats.stopped = (
                f"stopped at the deadline ({job.deadline:g} s); unfinished images stay pending: "
                "rerun the same command to continue"
            )
        return True

    def halt(exc: StoreError | OSError, what: str = "") -> None:
        stats.fault = str(exc) if isinstance(exc, StoreError) else f"{what}: {exc.strerror or exc}"
        stats.stopped, stats.fatal = stats.fault, True

    async def produce() -> None:
        try:
            for row in store.rows(*statuses):
                if stats.stopped or past_deadline():
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
        except StoreError as exc:
            halt(exc)
        finally:
            for _ in range(limit.cap):
                await queue.put(None)

    async def work() -> None:
        while (row := await queue.get()) is not None:
            if stats.fatal or past_deadline():
                continue
            await label_one(row)  # the limit covers the requests alone: see ask_patiently()
            report()

    def guess(row: Row) -> float:
        if job.max_cost is None or job.price is None or job.estimate is None:
            return 0.0
        return job.price.cost(*job.estimate(row))

    async def label_one(row: Row) -> None:
        expected = guess(row)
        try:
            await labelled(row)
        except StoreError as exc:
            halt(exc)
        except _Stopped:
            pass
        finally:
            stats.in_flight_cost = max(0.0, stats.in_flight_cost - expected)

    async def labelled(row: Row) -> None:
        nonlocal previews_left
        try:
            problem = (
                None if row.source.startswith(("http://", "https://")) else file_problem(row.source)
            )
            if problem:
                raise ImageError(row.source, problem)
            if job.tiling is None:
                result = await ground(await prepare(row.source, row.source))
            else:
                result = await aground_tiled(
                    row.source, lambda tile: ask_tile(tile, row.source), job.tiling, job.model,
                    job.classes,
                )  # fmt: skip
            stored = result.to_dict()
        except (StoreError, _Stopped):
            raise
        except FATAL as exc:
            stats.stopped, stats.fatal = f"{type(exc).__name__}: {exc}", True
        except APIConnectionError as exc:
            if exc.unreachable:
                stats.stopped, stats.fatal, stats.unreachable = str(exc), True, True
            else:
                fail(row, "failed", f"transient: {exc}")
        except ContentBlockedError as exc:
            fail(row, "blocked", f"blocked: {exc}")
        except ImageError as exc:
            fail(row, "failed", f"image: {exc.reason}")
        except _Unusable as exc:
            fail(row, "failed", exc.why, exc.response.content)
        except BadRequestError as exc:
            fail(row, "failed", f"request: {exc}")
        except (APIError, GroundingError) as exc:
            fail(row, "failed", f"transient: {type(exc).__name__}: {exc}")
        except Exception as exc:  # nothing about one image may end the job
            fail(row, "failed", f"unexpected error (a bug: please report it): {exc!r}")
        else:
            response = result.response
            usage = asdict(response.usage) if response else None
            store.finish(row.key, status="done", response=response.content if response else None,
                         result=stored, usage=usage, size=result.image_size)  # fmt: skip
            stats.done += 1
            if response is not None and not response.cached:
                stats.prompt_tokens += response.usage.prompt_tokens
                stats.completion_tokens += response.usage.completion_tokens
                if job.price:
                    stats.cost += job.price.cost(
                        response.usage.prompt_tokens,
                        response.usage.completion_tokens,
                        response.usage.cached_tokens,
                    )
            if previews_left > 0 and job.preview_dir is not None:
                previews_left -= 1
                try:
                    await asyncio.to_thread(_preview, row, result, job.preview_dir)
                except OSError as exc:
                    if exc.errno in _DISK_ERRNOS:
                        halt(exc, f"cannot write a preview in {job.preview_dir}")

    async def ask_tile(tile: ImageSource, name: str) -> Grounding:
        """One tile of the image ``name``, asked as an image of its own (and cached so)."""
        return await ground(await prepare(tile, name))

    async def prepare(source: ImageSource, name: str) -> PreparedImage:
        """Read and encode the image; any failure is the image's (``name``). A small file that
        goes as it is is read here (a thread would cost more than the work), any other in a
        thread."""
        options: dict[str, Any] = {
            "profile": get_profile(job.model),
            "max_pixels": client.options.max_pixels,
            "max_image_pixels": job.max_image_pixels,
        }
        try:
            if _small_local_file(source):
                prepared = prepare_as_is(source, **options)
                if prepared is not None:
                    return prepared
            return await asyncio.to_thread(prepare_image, source, **options)
        except ImageError:
            raise
        except Exception as exc:  # Pillow raises more than OSError on strange files
            raise ImageError(name, f"cannot be read: {type(exc).__name__}: {exc}") from None

    async def ground(prepared: PreparedImage) -> Grounding:
        """Ask, and parse; an answer that cannot be used (unparseable, or the parser fails on
        it) is asked once more past the cache, so a bad cached answer is never re-used."""
        why = ""
        for use_cache in (True, False):
            responses = await asyncio.gather(
                *(ask_patiently(prepared, use_cache, e) for e in client.request_extras)
            )
            response = responses[0]
            try:
                result = client.combine(responses, prepared, job.model)
            except LogprobsUnavailableError:
                raise
            except Exception as exc:  # a strange answer the parser or the mapping fails on
                why = f"the parser failed on the answer ({type(exc).__name__}: {exc})"
                continue
            if not _unparseable(result):
                return result
            why = "unparseable answer"
        raise _Unusable(response, f"{why} after a retry")

    async def ask_patiently(
        prepared: PreparedImage, use_cache: bool, extra: Mapping[str, Any]
    ) -> Response:
        """A storm of rate limits delays an image, however long it lasts; server errors and
        timeouts are asked again ``transient_rounds`` times, then fail it."""
        messages = prompts.messages(job.prompt, prepared.url)
        rounds = storms = 0
        while True:
            try:
                async with limit:  # a place under the adaptive limit only while it is sent
                    response = await before_deadline(
                        client.complete(
                            messages,
                            model=job.model,
                            use_cache=use_cache,
                            image_digests={prepared.url: prepared.digest},
                            extra=extra,
                        )
                    )
                    limit.success(cached=response.cached)
                return response
            except RateLimitError as exc:
                limit.slow_down()
                pause = exc.retry_after
                if pause is None:
                    pause = min(job.rate_limit_pause, job.transient_pause * 2**storms)
                storms += 1
            except (ServerError, APITimeoutError):
                if rounds == job.transient_rounds or stats.stopped:
                    raise
                pause = job.transient_pause * 2**rounds
                rounds += 1
            await wait(pause)

    async def before_deadline(request: Awaitable[Response]) -> Response:
        """The request, cut off at the deadline (the image then stays pending)."""
        if deadline is None:
            return await request
        try:
            return await asyncio.wait_for(request, max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            past_deadline()
            raise _Stopped from None

    async def wait(seconds: float) -> None:
        """Sleep, but never past the deadline nor on after the job stopped."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if stats.fatal or past_deadline():
                raise _Stopped
            await asyncio.sleep(min(left, 0.5))
        if stats.fatal or past_deadline():
            raise _Stopped

    def fail(row: Row, status: str, reason: str, response: str | None = None) -> None:
        store.finish(row.key, status=status, error=reason, response=response)
        if status == "blocked":
            stats.blocked += 1
        else:
            stats.failed += 1

    await asyncio.gather(produce(), *(work() for _ in range(limit.cap)))
    report()
    return stats


INLINE_BYTES = 1 << 20  # files up to this size are read on the event loop when sent as they are


def _small_local_file(source: ImageSource) -> TypeGuard[str]:
    if not isinstance(source, str) or source.startswith(("http://", "https://")):
        return False
    try:
        return os.path.getsize(source) <= INLINE_BYTES
    except OSError:
        return False  # prepare_image says what is wrong


def _preview(row: Row, result: Grounding, folder: Path) -> None:
    from grounding.annotate import annotate

    target = folder / (row.key if not row.key.startswith("http") else row.key.rsplit("/", 1)[-1])
    target = target.with_suffix(".jpg")
    target.parent.mkdir(parents=True, exist_ok=True)
    annotate(row.source, result).save(target, quality=85)
