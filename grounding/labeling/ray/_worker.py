"""What runs inside the Ray workers: the labeling actor and the job's coordinator.

Each :class:`RayLabeler` actor is a small ``grounding label``: it reads every image by its path
(or URL) itself, prepares it with :mod:`grounding.images` and labels a batch with
:func:`~grounding.labeling.run_job` on an in-memory job store, through one
:class:`~grounding.AsyncClient` and one :class:`~grounding.labeling.AdaptiveLimit` shared by all
the batches it holds. So the EXIF orientation, every image mode and extension, the per-image
error reasons, the patience with rate limits and the retry of an unparseable answer are those
of ``grounding label``, by construction. The actor only computes: each finished row goes
through the :class:`Coordinator` to the driver, which stores it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from dataclasses import replace
from typing import Any

import pyarrow as pa
import ray

from grounding.client import AsyncClient, Response
from grounding.errors import AccountError, AuthenticationError, QuotaExceededError
from grounding.labeling.inputs import Item
from grounding.labeling.runner import AdaptiveLimit, LabelJob, run_job
from grounding.labeling.store import JobStore

__all__ = ["OUTPUT_COLUMNS", "Coordinator", "RayLabeler", "Secret"]

FATAL = (AuthenticationError, AccountError, QuotaExceededError)

OUTPUT_COLUMNS = pa.schema([("key", pa.binary()), ("status", pa.string())])


class Secret:
    """A string (the API key) that never shows in a repr, a log line or a Ray error message."""

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"


@ray.remote(num_cpus=0)
class Coordinator:
    """The job's meeting point: finished rows flow to the driver through it as they finish
    (not when a batch or block is complete, so a killed driver loses only what is in flight),
    and the first fatal reason any actor met stops every actor before its next image."""

    def __init__(self) -> None:
        self._reason: str | None = None
        self._rows: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()

    async def stop(self, reason: str) -> None:
        if self._reason is None:
            self._reason = reason
        self._arrived.set()

    async def reason(self) -> str | None:
        return self._reason

    async def put(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self._arrived.set()

    async def take(self, wait: float) -> tuple[list[dict[str, Any]], str | None]:
        """The rows finished since the last call, waiting up to ``wait`` seconds for one."""
        if not self._rows:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), wait)
        self._arrived.clear()
        rows, self._rows = self._rows, []
        return rows, self._reason


class _Stopped(AccountError):
    """Raised for images not started once the job is stopping: run_job leaves them pending."""

    hint = ""


class _StoppingClient(AsyncClient):
    """An AsyncClient that stops the whole job on a fatal error and sends no request once any
    actor has (the coordinator is asked before each request)."""

    def __init__(self, coordinator: Any, **options: Any) -> None:
        super().__init__(**options)
        self.coordinator = coordinator
        self.reason: str | None = None

    async def complete(self, messages: list[dict[str, Any]], **options: Any) -> Response:
        if self.reason is None:
            self.reason = await self.coordinator.reason.remote()
        if self.reason is not None:
            raise _Stopped(f"stopped: {self.reason}")
        try:
            return await super().complete(messages, **options)
        except FATAL as exc:
            if self.reason is None:
                self.reason = f"{type(exc).__name__}: {exc}"
                self.coordinator.stop.remote(self.reason)
            raise


class RayLabeler:
    """The ``map_batches`` callable (an async actor): rows with ``key`` and ``source`` (a path
    or URL, read inside the worker) in; each finished row goes to the ``coordinator`` (a
    :class:`Coordinator` actor) as it finishes, and the batch comes back as ``key`` and
    ``status`` (``pending``: not tried, as the job stopped).

    ``job`` says what to ask (classes, model, prompt); ``client`` holds the
    :class:`~grounding.AsyncClient` options (the API key as a :class:`Secret`); ``concurrency``
    caps this actor's requests in flight (halved on rate limits, like ``grounding label -k``).
    """

    def __init__(
        self,
        job: LabelJob,
        client: dict[str, Any],
        concurrency: int,
        coordinator: Any,
    ) -> None:
        options = dict(client)
        if isinstance(options.get("api_key"), Secret):
            options["api_key"] = options["api_key"].value
        self.limit = AdaptiveLimit(concurrency)
        self.job = replace(job, concurrency=self.limit.cap, retry_failed=False, shard=None)
        self.client = _StoppingClient(
            coordinator, max_connections=self.limit.cap, on_retry=self.limit.on_retry, **options
        )

    async def __call__(self, batch: pa.Table) -> pa.Table:
        # bytes: a file name that is not UTF-8 survives Arrow (see _driver)
        keys = [os.fsdecode(k) for k in batch.column("key").to_pylist()]
        sources = [os.fsdecode(s) for s in batch.column("source").to_pylist()]
        # a store per batch: run_job labels every pending row of the store it is given
        store = _ForwardingStore(self.client.coordinator)
        try:
            store.add(Item(k, s, "") for k, s in zip(keys, sources, strict=True))
            stats = await run_job(self.job, store, self.client, self.limit)
            statuses = {row.key: row.status for row in store.rows()}
        finally:
            store.close()
        # the tokens paid (not cached answers): the run's, as run_job counts them
        tokens = {"tokens": (stats.prompt_tokens, stats.completion_tokens)}
        store.sent.append(self.client.coordinator.put.remote(tokens))
        await asyncio.gather(*store.sent)  # every row is with the coordinator before we return
        return pa.table(
            {"key": [os.fsencode(k) for k in keys], "status": [statuses[k] for k in keys]},
            schema=OUTPUT_COLUMNS,
        )


class _ForwardingStore(JobStore):
    """An in-memory job store that sends each finished row to the coordinator at once."""

    def __init__(self, coordinator: Any) -> None:
        super().__init__(":memory:")
        self.coordinator = coordinator
        self.sent: list[Any] = []

    def finish(self, key: str, **outcome: Any) -> None:
        """Store as :meth:`JobStore.finish` does, and send the same call to the driver."""
        super().finish(key, **outcome)
        self.sent.append(self.coordinator.put.remote({"key": key, "outcome": outcome}))


def per_actor(concurrency: int, actors: int) -> int:
    """Each actor's cap so that the actors together keep ``concurrency`` requests in flight."""
    return max(1, math.ceil(concurrency / max(1, actors)))
