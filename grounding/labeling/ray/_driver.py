"""The driver: the job store's pending images through a pool of labeling actors, rows back in.

The driver owns ``job.sqlite`` exactly as ``grounding label`` does: it registers the images,
hands the pending ones (key and path, never pixels) to Ray Data, and commits every row the
actors return as it arrives. So a rerun skips what is done, a killed driver loses at most the
requests in flight, and ``grounding export`` reads the result as it reads any job.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from grounding.client import AsyncClient
from grounding.errors import ConfigurationError
from grounding.labeling.runner import JobStats, LabelJob
from grounding.labeling.store import JobStore, Row

__all__ = ["client_options", "ray_runner", "run_ray_job"]

log = logging.getLogger(__name__)

_POLL = 0.2  # seconds the driver waits for a finished row before looking at the dataset


def _windows(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while window := list(itertools.islice(rows, size)):
        yield window


def run_ray_job(
    job: LabelJob,
    store: JobStore,
    client: dict[str, Any],
    *,
    actors: int = 2,
    address: str | None = None,
    num_cpus: float = 0.25,
    batch_size: int | None = None,
    window: int = 10_000,
    on_progress: Callable[[JobStats], None] | None = None,
) -> JobStats:
    """Label the pending images of ``store`` (and failed ones with ``job.retry_failed``) on a
    Ray cluster; the same job, rows and failure semantics as :func:`~grounding.labeling.run_job`.

    ``client`` holds the :class:`~grounding.AsyncClient` options (provider, base_url, api_key,
    model, thinking, timeout, cache, retry); ``job.concurrency`` requests in flight are shared
    among ``actors`` actors, each reserving ``num_cpus`` CPUs (a fraction: an actor waits on
    the network, and whole CPUs per actor starve other stages; never more than half the
    cluster's CPUs for all actors together, so that every actor can start). ``address`` is
    the cluster to join (None: the one ``ray.init`` finds or starts; a session already
    initialised is used as it is). Images go to the actors ``window`` at a time; after a
    fatal error (authentication, arrears, quota) every actor stops starting images at once and
    no window follows.

    >>> stats = run_ray_job(job, store, {"provider": "zai"}, actors=8)  # doctest: +SKIP
    """
    import ray
    import ray.data

    from grounding.labeling.ray._worker import Coordinator, RayLabeler, Secret, per_actor

    if actors < 1:
        raise ValueError("actors must be at least 1")
    _refuse_unsupported(job)
    statuses = ("pending", "failed") if job.retry_failed else ("pending",)
    stats = JobStats(total=sum(store.counts().get(s, 0) for s in statuses))
    if on_progress:
        on_progress(stats)
    if not stats.total:
        return stats  # nothing to do: no cluster needed
    if not ray.is_initialized():
        _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)  # fmt: skip
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
            raise ConfigurationError(f"cannot start or join {where}: {exc}") from None
    # the actors together reserve at most half the cluster's CPUs, so all of them can start
    cpus = float(ray.cluster_resources().get("CPU", 0))  # type: ignore[no-untyped-call]
    if cpus:
        num_cpus = min(num_cpus, cpus / 2 / actors)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False

    options = dict(client)
    options["api_key"] = Secret(options.get("api_key"))
    cap = per_actor(job.concurrency, actors)
    coordinator = Coordinator.remote()  # type: ignore[attr-defined]
    # what the actors need: not the driver's cost estimator (a closure) nor its folders
    sendable = replace(job, estimate=None, previews=0, preview_dir=None)
    try:
        for part in _windows(store.rows(*statuses), window):
            if stats.fatal:
                break
            # as bytes: Arrow's strings refuse a file name that is not UTF-8
            items = ray.data.from_items(
                [{"key": os.fsencode(r.key), "source": os.fsencode(r.source)} for r in part]
            )
            kwargs = {"job": sendable, "client": options, "concurrency": cap,
                      "coordinator": coordinator}  # fmt: skip
            labelled = items.map_batches(
                RayLabeler,
                fn_constructor_kwargs=kwargs,
                compute=ray.data.ActorPoolStrategy(size=actors, max_concurrent_calls_per_actor=2),
                num_cpus=num_cpus,
                batch_size=batch_size or max(4, cap),
                batch_format="pyarrow",
            )
            _drain(labelled, coordinator, store, stats, job, on_progress)
    finally:
        ray.kill(coordinator)
    return stats


def _check_reachable(address: str | None) -> None:
    """A ``host:port`` that nobody answers on: one line now (Ray itself retries for minutes)."""
    if not address or "://" in address or address == "auto" or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10):
            pass
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"--ray-address {address}: no Ray cluster answers there ({exc})"
        ) from None


def _drain(
    labelled: Any,
    coordinator: Any,
    store: JobStore,
    stats: JobStats,
    job: LabelJob,
    on_progress: Callable[[JobStats], None] | None,
) -> None:
    """Run ``labelled`` in a thread; meanwhile store the rows the actors finish, as they come."""
    import ray

    failure: list[BaseException] = []

    def run() -> None:
        try:
            for _ in labelled.iter_batches(batch_size=None, batch_format="pyarrow"):
                pass
        except BaseException as exc:  # re-raised in the driver's thread
            failure.append(exc)

    runner = threading.Thread(target=run, name="grounding-ray-dataset", daemon=True)
    runner.start()
    while True:
        running = runner.is_alive()
        rows, reason = ray.get(coordinator.take.remote(_POLL))
        if reason and not stats.fatal:
            stats.stopped, stats.fatal = reason, True
        for row in rows:
            _record(store, stats, job, row)
        if rows and on_progress:
            on_progress(stats)
        if not running:  # the rows of every finished batch were with the coordinator
            break
    if failure:
        raise failure[0]


def _record(store: JobStore, stats: JobStats, job: LabelJob, row: dict[str, Any]) -> None:
    """One finished row into the store (the call the actor's run_job made) and the stats; or
    a batch's paid tokens."""
    if "tokens" in row:
        tokens_in, tokens_out = row["tokens"]
        stats.prompt_tokens += tokens_in
        stats.completion_tokens += tokens_out
        if job.price:
            stats.cost += job.price.cost(tokens_in, tokens_out)
        return
    outcome = row["outcome"]
    store.finish(row["key"], **outcome)
    status = outcome["status"]
    if status == "done":
        stats.done += 1
    elif status == "blocked":
        stats.blocked += 1
    else:
        stats.failed += 1


def client_options(client: AsyncClient) -> dict[str, Any]:
    """What each actor needs to build the same client as ``client`` (its cache: the worker's
    default cache, as a separate process cannot share the object)."""
    return {
        "provider": client.settings.provider.name,
        "base_url": client.settings.base_url,
        "api_key": client.settings.api_key,
        "model": client.settings.model,
        "thinking": client.options.thinking,
        "max_tokens": client.options.max_tokens,
        "temperature": client.options.temperature,
        "stream": client.options.stream,
        "max_pixels": client.options.max_pixels,
        "timeout": client.timeout,
        "max_reply_bytes": client.max_reply_bytes,
        "download_images": client.options.download_images,
        "retry": client.retry,
        "cache": client.cache is not None,
        "confidence": client.confidence,
    }


def _refuse_unsupported(job: LabelJob) -> None:
    """Job-wide limits that per-actor runs cannot keep: refused before anything is sent."""
    unsupported = [
        name
        for name, used in (
            ("--max-cost", job.max_cost is not None),
            ("--deadline", job.deadline is not None),
            ("--preview", job.previews > 0),
        )
        if used
    ]
    if unsupported:
        raise ConfigurationError(f"{' and '.join(unsupported)} not available with --engine ray")


def ray_runner(
    job: LabelJob, store: JobStore, client: AsyncClient, *, address: str | None, actors: int
) -> Callable[[Callable[[JobStats], None]], JobStats]:
    """``grounding label --engine ray``: the job with ``client``'s settings, as a function of
    the progress callback. Settings Ray cannot honour are refused before anything is sent."""
    _refuse_unsupported(job)
    options = client_options(client)
    # one line per problem, as everywhere in the CLI: Ray Data's notices go to its log files
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")

    def run(on_progress: Callable[[JobStats], None]) -> JobStats:
        return run_ray_job(
            job, store, options, actors=actors, address=address, on_progress=on_progress
        )

    return run
