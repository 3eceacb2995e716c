"""``grounding label`` and ``grounding export``: auto-label folders of images."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from grounding.cli.ask import (
    DEFAULT_MAX_IMAGE_MP,
    ApiKey,
    BaseUrl,
    MaxImageMP,
    MaxTokens,
    Model,
    Provider,
    Temperature,
    Thinking,
    Timeout,
)
from grounding.cli.confidence import Confidence, ConsistencyIoU, Samples, confidence_from
from grounding.cli.exits import API_REFUSED, BAD_INPUT, STOPPED_EARLY, fail, fail_cleanly, warn
from grounding.cli.options import err, out
from grounding.cli.tiles import (
    MergeMethod,
    MergeMetric,
    MergeThreshold,
    Overlap,
    PointDistance,
    TileFull,
    TileMaxPixels,
    Tiles,
    tiling_from,
)
from grounding.confidence import ConfidenceOptions, request_extras
from grounding.export import FORMATS, ExportError, export_job
from grounding.labeling import (
    AdaptiveLimit,
    JobStats,
    JobStore,
    LabelJob,
    Price,
    estimate_tokens,
    find_images,
    in_shard,
    parse_shard,
    register,
    run_job,
)
from grounding.labeling.cost import find_price
from grounding.labeling.inputs import file_problem
from grounding.labeling.lock import JobLock
from grounding.labeling.review import write_review
from grounding.profiles import get_profile

__all__ = ["export", "label"]

STORE = "job.sqlite"
RESUME = "interrupted: every finished image is kept; run the same command again to resume"
_NO_KEY = "dry-run: no key needed"  # a dry run sends nothing; this is never sent or shown
Formats = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        help=f"Comma-separated: {', '.join(FORMATS)}. Each goes into OUT/<format>/ in the "
        "layout its tool imports (yolo-seg: polygons as segments).",
    ),
]
Val = Annotated[
    float,
    typer.Option(
        "--val",
        help="Hold out this fraction of images (0.1 = 10%) as the 'val' subset, by a stable "
        "hash of the path; used by every format with subsets.",
    ),
]
KeepUnknown = Annotated[
    bool,
    typer.Option("--keep-unknown", help="Keep labels that match no class (as their own classes)."),
]
CopyImages = Annotated[
    bool,
    typer.Option(
        "--copy-images", help="Copy images into the export folders instead of hard-linking them."
    ),
]
LsFrom = Annotated[
    str, typer.Option("--ls-from-name", help="Label Studio control name (from_name).")
]
LsTo = Annotated[str, typer.Option("--ls-to-name", help="Label Studio object name (to_name).")]
LsPrefix = Annotated[
    str,
    typer.Option(
        "--ls-image-prefix",
        help="Prefix of image references in Label Studio tasks: its local-files URL unless "
        "the images are served some other way.",
    ),
]
LsRoot = Annotated[
    Path | None,
    typer.Option(
        "--ls-root",
        help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT: image paths are given relative to it "
        "[default: the parent of the input folder].",
    ),
]


class Engine(str, Enum):
    """Where ``grounding label`` runs the requests."""

    local = "local"
    ray = "ray"


def _formats(value: str) -> list[str]:
    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise typer.BadParameter(f"use {', '.join(FORMATS)}", param_hint="--format")
    return formats


def _out_not_around_inputs(inputs: list[str], out_dir: Path) -> None:
    """``--out`` is never read as input; an input inside it would silently be empty."""
    out_real = os.path.realpath(out_dir)
    for raw in inputs:
        real = os.path.realpath(os.path.expanduser(raw))
        if real == out_real or real.startswith(out_real.rstrip(os.sep) + os.sep):
            fail(f"input {raw} is inside --out {out_dir}; choose an --out apart from the images")


def _out_folder(out_dir: Path) -> None:
    """Make ``--out`` before anything is found or sent; one line if it cannot be."""
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir} is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {out_dir}: cannot create it ({exc.strerror or exc})")


_EXPORT_OPTIONS = ("keep_unknown", "copy_images", "val", "ls_from_name", "ls_to_name",
                   "ls_image_prefix", "ls_root", "yolo_scores")  # fmt: skip
YoloScores = Annotated[
    bool,
    typer.Option(
        "--yolo-scores",
        help="YOLO label files get a sixth column: each box's confidence (Ultralytics' "
        "save_conf form; 1 where unknown). Off by default: training loaders expect five.",
    ),
]
ReviewBelow = Annotated[
    float | None,
    typer.Option(
        "--review-below",
        help="Write OUT/review/: the images with any shape scored under this (needs "
        "--confidence), least sure first, as review.csv and as Label Studio tasks.",
        rich_help_panel="Confidence (a score for every box)",
    ),
]


def _check_val(val: float) -> None:
    if not 0 <= val < 1:
        raise typer.BadParameter("must be at least 0 and below 1 (0.1 holds out 10%)",
                                 param_hint="--val")  # fmt: skip


def _write_exports(
    stores: list[JobStore],
    folder: Path,
    classes: list[str],
    formats: list[str],
    options: dict[str, Any],
    model_version: str,
) -> None:
    chosen = {k: options[k] for k in _EXPORT_OPTIONS}
    total = sum(s.counts().get("done", 0) for s in stores)
    columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("export", total=total)
        try:
            summary = export_job(
                stores,
                folder,
                classes=classes,
                formats=formats,
                model_version=model_version,
                on_image=lambda n: bar.update(task, completed=n),
                **chosen,
            )
        except ExportError as exc:
            err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(2) from None
    subsets = ", ".join(f"{k} {v}" for k, v in sorted(summary.subsets.items()))
    err.print(
        f"exported {summary.images} images ({subsets or 'none'}), {summary.boxes} boxes, "
        f"{summary.polygons} polygons, {summary.points} points",
        highlight=False,
    )
    for fmt, path in summary.files.items():
        err.print(f"  {fmt}: {path}", highlight=False, markup=False)
    for note in summary.notes:
        err.print(f"  note: {note}", highlight=False, markup=False)
    if summary.unmatched:
        err.print(
            f"[yellow]dropped {summary.unmatched} boxes whose label matched no class[/] "
            "(--keep-unknown keeps them)"
        )


def label(
    inputs: Annotated[
        list[str], typer.Argument(help="Folders (recursive), globs, or text files of paths/URLs.")
    ],
    classes: Annotated[
        str, typer.Option("--classes", "-c", help='Comma-separated classes: "scratch,dent,crack".')
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output folder: job.sqlite, exports, previews (never read as input).",
        ),
    ],
    model: Model = None,
    provider: Provider = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    thinking: Thinking = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", "-k", help="Most requests in flight (adapts down on rate limits)."
        ),
    ] = 4,
    formats: Formats = "coco",
    prompt: Annotated[
        str | None,
        typer.Option("--prompt", help="Your own prompt; {classes} is replaced by the class list."),
    ] = None,
    preview: Annotated[
        int, typer.Option("--preview", help="Draw the first N labelled images into OUT/previews/.")
    ] = 0,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="List what would be sent and estimate tokens and cost; send nothing (no API "
            "key needed).",
        ),
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", help="Stop scheduling before the estimated cost passes this."),
    ] = None,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline",
            help="Stop after this many seconds: nothing new is sent, images still waiting out "
            "rate limits stay pending (exit 3; rerun to continue). Without it, rate limits "
            "delay images as long as they last.",
        ),
    ] = None,
    price_in: Annotated[
        float | None,
        typer.Option("--price-in", help="Price per million input tokens [default: the table]."),
    ] = None,
    price_out: Annotated[
        float | None, typer.Option("--price-out", help="Price per million output tokens.")
    ] = None,
    currency: Annotated[
        str, typer.Option("--currency", help="Currency sign for --price-in/--price-out.")
    ] = "$",
    output_tokens: Annotated[
        int, typer.Option("--expected-output-tokens", help="Answer length assumed by estimates.")
    ] = 200,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard", help="Label only shard k of N (k/N), by a stable hash of the path."
        ),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run the failed images again.")
    ] = False,
    keep_unknown: KeepUnknown = False,
    copy_images: CopyImages = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Skip the response cache.")] = False,
    max_tokens: MaxTokens = 4096,
    temperature: Temperature = None,
    max_image_mp: MaxImageMP = DEFAULT_MAX_IMAGE_MP,
    timeout: Timeout = 300.0,
    ls_from_name: LsFrom = "label",
    ls_to_name: LsTo = "image",
    ls_image_prefix: LsPrefix = "/data/local-files/?d=",
    ls_root: LsRoot = None,
    val: Val = 0.0,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local: this process; ray: the actors of a Ray cluster (needs the ray extra),"
            " sharing the -k requests in flight.",
        ),
    ] = Engine.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address", help="Ray cluster to join (host:port, ray://…); default: a local one."
        ),
    ] = None,
    ray_actors: Annotated[
        int, typer.Option("--ray-actors", min=1, help="Labeling actors with --engine ray.")
    ] = 2,
    tiles: Tiles = None,
    overlap: Overlap = 0.2,
    tile_full: TileFull = True,
    merge: MergeMethod = "greedy-nmm",
    merge_metric: MergeMetric = "ios",
    merge_threshold: MergeThreshold = 0.5,
    point_distance: PointDistance = None,
    tile_max_pixels: TileMaxPixels = None,
    yolo_scores: YoloScores = False,
    confidence: Confidence = "none",
    samples: Samples = 5,
    consistency_iou: ConsistencyIoU = 0.5,
    review_below: ReviewBelow = None,
) -> None:
    """Label every image of the inputs with boxes for the classes; write datasets.

    Rerunning the same command resumes: finished images are skipped and cost nothing; Ctrl-C
    keeps everything finished. Each file is one image however it is reached (overlapping
    inputs, links); keys are paths relative to the inputs' common folder. One `label` or
    `export` at a time per --out. Exit codes: 0 all images done or failed for a per-image
    reason (see OUT/failed.csv); 1 the API refused (key, arrears, quota); 2 bad settings or
    inputs, an unreachable endpoint, or a disk/store fault (one line names the file); 3
    stopped early (cost limit, --deadline, or images that failed for transient reasons: rerun
    with --retry-failed); 130 interrupted (rerun the same command to resume).

    \b
    Example: grounding label photos/ --classes "scratch,dent" --out labels/ -f coco,yolo -k 8
    Big photos: add --tiles auto (see --dry-run for the tile plan and its cost first).
    Reviewers first: --confidence consistency --review-below 0.5 lists the doubtful images.
    """
    with fail_cleanly(RESUME):
        _label(dict(locals()))


def _label(o: dict[str, Any]) -> None:
    out_dir: Path = o["out_dir"]
    tiling = tiling_from(o)
    scoring = confidence_from(o)
    if o["review_below"] is not None and scoring.method == "none":
        raise typer.BadParameter("needs --confidence logprobs or consistency",
                                 param_hint="--review-below")  # fmt: skip
    names = [c.strip() for c in o["classes"].split(",") if c.strip()]
    if not names:
        raise typer.BadParameter("give at least one class", param_hint="--classes")
    chosen = _formats(o["formats"])
    _check_val(o["val"])
    try:
        part = parse_shard(o["shard"]) if o["shard"] else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from None
    if o["concurrency"] < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--concurrency")
    if o["deadline"] is not None and o["deadline"] <= 0:
        raise typer.BadParameter("must be a positive number of seconds", param_hint="--deadline")

    from grounding.client import AsyncClient, resolve_settings

    key = o["api_key"] or (_NO_KEY if o["dry_run"] else None)
    settings = resolve_settings(
        o["provider"], base_url=o["base_url"], api_key=key, model=o["model"]
    )
    request_extras(scoring, settings.provider.name)  # a method the provider lacks: refused now
    profile = get_profile(settings.model)
    text = o["prompt"].replace("{classes}", ", ".join(names)) if o["prompt"] else None
    if text is None:
        from grounding import prompts

        text = prompts.prompt_text("detect", names, model=profile, thinking=o["thinking"])
    price = (
        Price(o["price_in"], o["price_out"], o["currency"])
        if o["price_in"] is not None and o["price_out"] is not None
        else find_price(settings.provider.name, profile)
    )
    if o["max_cost"] is not None and price is None:
        raise typer.BadParameter(
            f"no price known for {settings.model} on {settings.provider.name}: "
            "give --price-in and --price-out",
            param_hint="--max-cost",
        )

    plans: dict[str, int] = {}  # the tile plan of each image size -> images

    def estimate(source: str) -> tuple[int, int]:
        """Tokens of every request the image takes (tiles, samples)."""
        tokens_in, tokens_out = one_pass(source)
        k = scoring.requests_per_question
        return tokens_in * k, tokens_out * k

    def one_pass(source: str) -> tuple[int, int]:
        from PIL import Image

        if not source.startswith(("http://", "https://")) and file_problem(source):
            return 0, 0  # never open a FIFO or a link loop
        try:
            with Image.open(source) as image:
                width, height = image.size
        except (OSError, ValueError, Image.DecompressionBombError):
            return 0, 0
        if tiling is None:
            return estimate_tokens(width, height, text, profile, o["output_tokens"])
        from grounding.tiling import estimate_tiled_tokens

        # EXIF rotation swaps the sides of the upright image; the tile count is the same
        plan = tiling.plan((width, height), profile)
        plans[plan.describe()] = plans.get(plan.describe(), 0) + 1
        return estimate_tiled_tokens(plan, text, profile, o["output_tokens"])

    _out_not_around_inputs(o["inputs"], out_dir)
    if o["dry_run"]:
        _dry_run(o["inputs"], out_dir, part, settings, text, names, price, estimate,
                 o["max_cost"], scoring)  # fmt: skip
        if tiling is not None:
            _tile_plans(plans)
        return

    _out_folder(out_dir)
    with JobLock(out_dir, "label"), JobStore(out_dir / STORE, check=True) as store:
        job_config: dict[str, Any] = {"classes": names, "prompt": text, "model": settings.model}
        stored = store.get_meta("job")
        if stored and (stored.get("classes") != names or stored.get("prompt") != text):
            fail(
                f"{out_dir} holds a job for classes {stored.get('classes')} with another "
                "prompt; use the same --classes/--prompt to resume, or another --out"
            )
        if tiling is not None:
            job_config["tiling"] = tiling.describe()
        if stored and stored.get("tiling") != job_config.get("tiling"):
            fail(
                f"{out_dir} holds a job labelled with other tiling settings "
                f"({stored.get('tiling') or 'no tiles'}); use the same tiling options to resume, "
                "or another --out (tiles already asked come from the cache)"
            )
        if scoring.method != "none":
            job_config["confidence"] = scoring.describe()
        if stored and stored.get("confidence") != job_config.get("confidence"):
            fail(
                f"{out_dir} holds a job scored {stored.get('confidence') or 'without confidence'}"
                "; use the same --confidence options to resume, or another --out"
            )
        store.set_meta("job", job_config)
        new = _register(store, o["inputs"], out_dir, part)
        counts = store.counts()
        err.print(
            f"{sum(counts.values())} images in the job ({new} new): "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )

        limit = AdaptiveLimit(o["concurrency"])
        job = LabelJob(
            classes=names,
            model=settings.model,
            prompt=text,
            concurrency=o["concurrency"],
            retry_failed=o["retry_failed"],
            shard=part,
            max_cost=o["max_cost"],
            price=price,
            estimate=lambda row: estimate(row.source),
            previews=o["preview"],
            preview_dir=out_dir / "previews",
            deadline=o["deadline"],
            max_image_pixels=round(o["max_image_mp"] * 1e6),
            tiling=tiling,
        )
        client = AsyncClient(
            settings.provider.name,
            base_url=settings.base_url,
            api_key=settings.api_key,
            model=settings.model,
            thinking=o["thinking"],
            max_tokens=o["max_tokens"],
            temperature=o["temperature"],
            timeout=o["timeout"],
            cache=not o["no_cache"],
            max_connections=o["concurrency"],
            confidence=scoring,
            on_retry=limit.on_retry,
        )
        run = None
        if o["engine"] is Engine.ray:
            from grounding.labeling.ray import ray_runner

            run = ray_runner(job, store, client, address=o["ray_address"], actors=o["ray_actors"])
        stats = _run_with_progress(job, store, client, limit, price, run)
        _summary(stats, store, price, limit)
        if stats.fault:
            kept = "every image finished before it is kept: fix it and rerun"
            fail(f"{stats.fault.rstrip('.?')}; {kept}")
        _write_exports([store], out_dir, names, chosen, o, settings.model)
        if o["review_below"] is not None:
            _write_review(store, out_dir, names, o)
        transient = sum(
            1 for row in store.rows("failed") if (row.error or "").startswith("transient")
        )
    if stats.fatal:
        # nothing listening is a setting to fix (2, as in locate); a refusal is the API's (1)
        fail(
            f"{stats.stopped}. Everything finished is kept; fix it and rerun.",
            BAD_INPUT if stats.unreachable else API_REFUSED,
        )
    if stats.stopped or transient:
        reason = stats.stopped or (
            f"{transient} images failed for transient reasons; rerun with --retry-failed"
        )
        err.print(f"[yellow]{escape(reason)}[/]")
        raise typer.Exit(STOPPED_EARLY)


def _register(store: JobStore, inputs: list[str], out_dir: Path, part: Any) -> int:
    """Find the images (never in ``out_dir``) into the store; report unreadable folders."""
    problems: list[str] = []

    def note(path: str, reason: str) -> None:
        problems.append(f"{path}: {reason}")

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True
    ) as spin:
        spin.add_task("finding images…")
        try:
            found = find_images(inputs, exclude=out_dir, on_problem=note)
            new = register(store, found, part)
        except FileNotFoundError as exc:
            fail(str(exc))
    for line in problems[:20]:
        warn(f"cannot read {line}; its images are not in the job")
    if len(problems) > 20:
        warn(f"… and {len(problems) - 20} more unreadable folders")
    if problems:
        store.set_meta("unreadable", problems[:1000])
    return new


def _run_with_progress(
    job: LabelJob,
    store: JobStore,
    client: Any,
    limit: AdaptiveLimit,
    price: Price | None,
    run: Callable[[Callable[[JobStats], None]], JobStats] | None = None,
) -> JobStats:
    columns = (
        TextColumn("[bold]labeling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "done {task.fields[done]} · failed {task.fields[failed]} · {task.fields[rate]}"
            " · {task.fields[tokens]} tokens · {task.fields[cost]}"
            " · in flight ≤{task.fields[limit]}"
        ),
        TimeRemainingColumn(),
    )
    start = time.perf_counter()
    with Progress(*columns, console=err) as bar:
        task = bar.add_task(
            "label", total=None, done=0, failed=0, rate="", tokens=0, cost="", limit=limit.limit
        )

        def update(stats: JobStats) -> None:
            elapsed = max(time.perf_counter() - start, 1e-6)
            bar.update(
                task,
                total=stats.total,
                completed=stats.finished,
                done=stats.done,
                failed=stats.failed + stats.blocked,
                rate=f"{stats.finished / elapsed:.1f} img/s",
                tokens=f"{stats.prompt_tokens + stats.completion_tokens:,}",
                cost=price.show(stats.cost) if price else "cost ?",
                limit=limit.limit,
            )

        if run is not None:  # another engine (Ray) runs the job and reports progress
            return run(update)

        async def go() -> JobStats:
            async with client:
                return await run_job(job, store, client, limit, update)

        return asyncio.run(go())


def _summary(stats: JobStats, store: JobStore, price: Price | None, limit: AdaptiveLimit) -> None:
    counts = store.counts()
    elapsed = time.perf_counter() - stats.started
    table = Table(title="labeling summary", show_header=False)
    for key in ("done", "failed", "blocked", "pending"):
        table.add_row(key, str(counts.get(key, 0)))
    table.add_row(
        "this run",
        f"{stats.finished} images in {elapsed:.1f} s ({stats.finished / max(elapsed, 1e-6):.1f}/s)",
    )
    table.add_row(
        "tokens (this run)", f"{stats.prompt_tokens:,} in / {stats.completion_tokens:,} out"
    )
    table.add_row(
        "cost (this run)",
        price.show(stats.cost) if price else "unknown (give --price-in/--price-out)",
    )
    job_in, job_out = store.usage_totals()
    table.add_row(
        "whole job (all runs)",
        f"{job_in:,} in / {job_out:,} out tokens"
        + (f", {price.show(price.cost(job_in, job_out))}" if price else ""),
    )
    if limit.rate_limited:
        table.add_row(
            "rate limited", f"{limit.rate_limited} times; ended at {limit.limit} in flight"
        )
    out.print(table)


def _write_review(store: JobStore, out_dir: Path, names: list[str], o: dict[str, Any]) -> None:
    ls = {k: o[k] for k in ("ls_from_name", "ls_to_name", "ls_image_prefix", "ls_root")}
    count, path = write_review([store], out_dir, o["review_below"], names, **ls)
    err.print(
        f"review: {count} images have a shape scored under {o['review_below']}: {path} "
        f"(least sure first) and {path.parent / 'labelstudio' / 'tasks.json'}",
        highlight=False,
        markup=False,
    )


def _dry_run(
    inputs: list[str],
    out_dir: Path,
    part: Any,
    settings: Any,
    text: str,
    names: list[str],
    price: Price | None,
    estimate: Any,
    max_cost: float | None,
    scoring: ConfidenceOptions,
) -> None:
    store_path = out_dir / STORE
    done: set[str] = set()
    if store_path.exists():
        with JobStore(store_path, readonly=True) as store:
            done = {row.source for row in store.rows("done", "blocked")}
    count = tokens_in = tokens_out = 0
    shown: list[str] = []
    seen: set[str] = set()  # one file reached twice (overlapping inputs, links) is one image
    problems: list[str] = []
    try:
        for item in find_images(
            inputs, exclude=out_dir, on_problem=lambda p, r: problems.append(f"{p}: {r}")
        ):
            if not in_shard(item.key, part) or item.source in done or item.source in seen:
                continue
            seen.add(item.source)
            count += 1
            if len(shown) < 10:
                shown.append(item.key)
            a, b = estimate(item.source)
            tokens_in += a
            tokens_out += b
    except FileNotFoundError as exc:
        fail(str(exc))
    for line in problems[:20]:
        err.print(
            f"[yellow]warning:[/] cannot read {escape(line)}; its images would not be labelled"
        )
    table = Table(title="dry run: nothing is sent", show_header=False)
    table.add_row("model", f"{settings.model} via {settings.provider.name} ({settings.base_url})")
    table.add_row("classes", ", ".join(names))
    table.add_row("prompt", text)
    table.add_row("images to label", f"{count}" + (f" ({len(done)} already done)" if done else ""))
    table.add_row("first images", "\n".join(shown) or "-")
    if scoring.method != "none":
        per = scoring.requests_per_question
        cost = f" ({per} requests per image, counted below)" if per > 1 else ""
        table.add_row("confidence", scoring.describe() + cost)
    table.add_row("estimated tokens", f"{tokens_in:,} in / {tokens_out:,} out")
    table.add_row(
        "estimated cost",
        price.show(price.cost(tokens_in, tokens_out))
        if price
        else "unknown (give --price-in/--price-out)",
    )
    if max_cost is not None and price is not None:
        table.add_row("--max-cost", price.show(max_cost))
    out.print(table)


def _tile_plans(plans: dict[str, int]) -> None:
    table = Table(title="tile plan (each tile and the whole image is one request)")
    table.add_column("image size: plan")
    table.add_column("images", justify="right")
    for description, count in sorted(plans.items()):
        table.add_row(description, str(count))
    out.print(table)


def export(
    out_dir: Annotated[Path, typer.Argument(help="The labeling output folder (with job.sqlite).")],
    formats: Formats = "coco",
    stores: Annotated[
        list[Path] | None,
        typer.Option("--store", help="More job.sqlite files to merge (other shards)."),
    ] = None,
    keep_unknown: KeepUnknown = False,
    copy_images: CopyImages = False,
    ls_from_name: LsFrom = "label",
    ls_to_name: LsTo = "image",
    ls_image_prefix: LsPrefix = "/data/local-files/?d=",
    ls_root: LsRoot = None,
    val: Val = 0.0,
    yolo_scores: YoloScores = False,
) -> None:
    """Write datasets from job stores at any time (also merges the stores of several shards).

    Example: grounding export labels/ -f yolo,labelstudio --store shard2/job.sqlite
    """
    options = dict(locals())
    chosen = _formats(formats)
    _check_val(val)
    paths = ([out_dir / STORE] if (out_dir / STORE).exists() else []) + list(stores or [])
    missing = [p for p in paths if not p.exists()]
    if not paths or missing:
        err.print(f"[red]error:[/] no job store at {missing[0] if missing else out_dir / STORE}")
        raise typer.Exit(2)
    _out_folder(out_dir)
    with fail_cleanly(), JobLock(out_dir, "export"), contextlib.ExitStack() as stack:
        opened = [stack.enter_context(JobStore(p, readonly=True)) for p in paths]
        job = next((s.get_meta("job") for s in opened if s.get_meta("job")), None)
        if not job:
            fail(f"{paths[0]} has no job configuration (was it made by grounding label?)")
        _write_exports(
            opened, out_dir, job["classes"], chosen, options, job.get("model", "grounding")
        )
