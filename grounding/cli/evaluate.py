"""``grounding bench``, ``grounding score`` and ``grounding datasets synth``."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from grounding import __version__
from grounding.cli.ask import (
    ApiKey,
    BaseUrl,
    MaxTokens,
    Model,
    Provider,
    Temperature,
    Thinking,
    Timeout,
)
from grounding.cli.confidence import Confidence, ConsistencyIoU, Samples, confidence_from
from grounding.cli.exits import fail, fail_cleanly, warn
from grounding.cli.options import err, out, rounded
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
from grounding.datasets import DATASETS, TASKS, Sample, load_samples
from grounding.datasets.synthetic import write_synthetic
from grounding.evals.report import public_metrics, write_report
from grounding.prompts import Task

__all__ = ["bench", "datasets_app", "score"]

Dataset = Annotated[str, typer.Argument(help=f"One of: {', '.join(DATASETS)}.")]
Root = Annotated[
    Path,
    typer.Option(
        "--root",
        help="Folder with the annotations (RefCOCO: the refs pickle and instances.json; also "
        "a .jsonl or .parquet file).",
    ),
]
Images = Annotated[
    Path | None, typer.Option("--images", help="Image folder [default: ROOT/images].")
]
Split = Annotated[
    str, typer.Option("--split", "-s", help="Split(s), comma-separated: val,testA,testB.")
]


def _splits(value: str) -> list[str]:
    splits = [s.strip() for s in value.split(",") if s.strip()]
    if not splits:
        raise typer.BadParameter("give at least one split", param_hint="--split")
    return splits


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise typer.BadParameter(f"use one of {', '.join(DATASETS)}", param_hint="DATASET")


def _print_scores(scored: dict[str, Any]) -> None:
    public = public_metrics(scored)
    for split, metrics in public["splits"].items():
        table = Table(title=f"{scored['dataset']} {split}", show_header=True)
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in metrics.items():
            if isinstance(value, float):
                table.add_row(key, f"{value * 100:.2f}" if value <= 1 else f"{value:.2f}")
            elif isinstance(value, int):
                table.add_row(key, str(value))
        out.print(table)
        for warning in metrics.get("warnings", []):
            warn(f"{split}: {warning}")
    if public.get("summary"):
        s = public["summary"]
        line = (
            f"across {s['splits']} splits ({s['key']}): macro {s['macro'] * 100:.2f}, "
            f"weighted {s['weighted'] * 100:.2f}, N = {s['n']}"
        )
        for name in ("avg8", "avg_val3"):
            if s.get(name) is not None:
                line += f", {name} {s[name] * 100:.2f}"
        out.print(line)


def _score_json(scored: dict[str, Any]) -> dict[str, Any]:
    """The scores as one JSON object: fractions to four decimals (two in percent)."""
    public = public_metrics(scored)
    splits = public.pop("splits")
    body = next(iter(splits.values())) if len(splits) == 1 else {"splits": splits}
    if public.get("summary"):
        public["summary"] = {k: v for k, v in public["summary"].items() if v is not None}
    rest = {k: v for k, v in public.items() if v is not None}
    shown: dict[str, Any] = rounded({**body, **rest}, 4)
    return shown


def score(
    predictions: Annotated[Path, typer.Argument(help="A predictions.jsonl file.")],
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help=f"One of: {', '.join(DATASETS)}.")
    ],
    root: Root,
    split: Split,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Profile to re-parse raw responses with [default: the model recorded in "
            "run.json beside PREDICTIONS, else glm-4.5v].",
        ),
    ] = None,
    images: Images = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (fractions to 4 decimals).")
    ] = False,
) -> None:
    """Score a predictions file offline (raw responses are re-parsed: no new requests).

    Lines are {"id", "response"} or {"id", "boxes": [[x1,y1,x2,y2], ...]} in pixels.
    A split none of whose samples has a prediction is scored (all wrong) with a warning.

    \b
    Example: grounding score run/predictions.jsonl -d refcoco --root data/refcoco -s val
    """
    _check_dataset(dataset)
    from grounding.evals.bench import read_run_config
    from grounding.evals.score import score_predictions

    if model is None:
        recorded = read_run_config(predictions.parent) or {}
        model = str(recorded.get("model") or "glm-4.5v")
    with fail_cleanly():
        scored = score_predictions(
            predictions,
            dataset=dataset,
            root=root,
            splits=_splits(split),
            model=model,
            images=images,
        )
    if as_json:
        sys.stdout.write(json.dumps(_score_json(scored)) + "\n")
        return
    _print_scores(scored)


def _check_images(chosen: dict[str, list[Sample]], images: Path | None, root: Path) -> None:
    """A wrong --images folder is caught before the first request: the first image of each
    split must exist."""
    for split, samples in chosen.items():
        first = samples[0].image if samples else None
        if isinstance(first, Path) and not first.is_file():
            where = f"--images {images}" if images else f"--images (default {root / 'images'})"
            fail(f"{first}: no such file (the first image of split {split}); check {where}")


def _prompt_of(task: Task, profile: Any, thinking: bool) -> str:
    """The prompt a run sends, with its subject as a placeholder."""
    from grounding import prompts

    if task == "detect":
        return prompts.prompt_text("detect", ["{categories}"], model=profile, thinking=thinking)
    subject = "{instruction}" if task == "gui" else "{expression}"
    return prompts.prompt_text(task, subject, model=profile, thinking=thinking)


def bench(
    dataset: Dataset,
    root: Root,
    split: Split,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Run folder (created). A rerun with the same settings resumes; other settings "
            "are refused (see --resume-anyway).",
        ),
    ],
    model: Model = None,
    provider: Provider = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    thinking: Thinking = False,
    images: Images = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="First N samples only.", min=1)
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-k", help="Requests in flight.", min=1)
    ] = 4,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Skip the response cache.")] = False,
    max_tokens: MaxTokens = 4096,
    temperature: Temperature = None,
    timeout: Timeout = 300.0,
    resume_anyway: Annotated[
        bool,
        typer.Option(
            "--resume-anyway",
            "--force",
            help="Resume into a run folder made with other settings (model, prompt, split, "
            "...), mixing the two runs' answers.",
        ),
    ] = False,
    tiles: Tiles = None,
    overlap: Overlap = 0.2,
    tile_full: TileFull = True,
    merge: MergeMethod = "greedy-nmm",
    merge_metric: MergeMetric = "ios",
    merge_threshold: MergeThreshold = 0.5,
    point_distance: PointDistance = None,
    tile_max_pixels: TileMaxPixels = None,
    confidence: Confidence = "none",
    samples: Samples = 5,
    consistency_iou: ConsistencyIoU = 0.5,
) -> None:
    """Run a model over a dataset split, then score it and write a report.

    OUT/run.json records the run's configuration (dataset, split, model, provider, base URL,
    prompt, thinking, temperature, max tokens, parser version); a rerun into OUT resumes only
    with the same one and otherwise says what differs and exits 2. Answers are appended to
    OUT/predictions.jsonl as they arrive (Ctrl-C keeps them), then OUT/metrics.json,
    OUT/report.md and OUT/report.html (the worst cases with each answer) are written.

    \b
    Example: grounding bench refcoco --root data/refcoco -s val -m glm-4.5v -o runs/val -k 8
    """
    _check_dataset(dataset)
    tiling = tiling_from(locals())
    scoring = confidence_from(locals())
    from grounding.client import AsyncClient
    from grounding.evals.bench import (
        BenchProgress,
        config_differences,
        done_ids,
        read_run_config,
        run_bench,
        write_run_config,
    )
    from grounding.evals.score import read_predictions, score_splits
    from grounding.profiles import get_profile

    splits = _splits(split)
    task = TASKS[dataset]
    predictions = out_dir / "predictions.jsonl"
    interrupted = f"interrupted: the answers so far are kept in {predictions}; rerun to resume"
    with fail_cleanly(interrupted):
        chosen = {
            s: list(islice(load_samples(dataset, root, s, images=images), limit)) for s in splits
        }
        _check_images(chosen, images, root)
        client = AsyncClient(
            provider,
            base_url=base_url,
            api_key=api_key,
            model=model,
            thinking=thinking,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            cache=not no_cache,
            max_connections=concurrency,
            confidence=scoring,
        )
        name = client.model
        profile = get_profile(name)
        run_config = {
            "dataset": dataset,
            "split": ",".join(splits),
            "model": name,
            "provider": client.settings.provider.name,
            "base_url": client.settings.base_url,
            "prompt": _prompt_of(task, profile, thinking),
            "thinking": thinking,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "parser": f"grounding {__version__}",
            **({"tiling": tiling.describe()} if tiling else {}),
            **({"confidence": scoring.describe()} if scoring.method != "none" else {}),
        }
        stored = read_run_config(out_dir)
        if stored is None and predictions.exists() and not resume_anyway:
            fail(
                f"{out_dir} holds predictions but no {out_dir / 'run.json'} (an older run?): "
                "use another --out, or --resume-anyway to add to it"
            )
        differences = config_differences(stored, run_config) if stored else []
        if differences and not resume_anyway:
            fail(
                f"{out_dir} was made with other settings ({'; '.join(differences)}): use "
                "another --out, the same settings, or --resume-anyway to mix the runs"
            )
        if differences:
            warn(f"resuming into {out_dir} anyway: {'; '.join(differences)}")
        write_run_config(out_dir, run_config)
        total = sum(len(v) for v in chosen.values())
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "{task.fields[rate]} · acc@0.5 {task.fields[acc]} · failed {task.fields[failed]}"
            ),
            TimeRemainingColumn(),
        )
        start = time.perf_counter()
        with Progress(*columns, console=err, transient=False) as bar:
            job = bar.add_task(f"{dataset} {split}", total=total, rate="", acc="-", failed=0)
            finished = done_ids(predictions)
            already = sum(1 for v in chosen.values() for s in v if s.id in finished)

            def update(p: BenchProgress) -> None:
                elapsed = time.perf_counter() - start
                bar.update(
                    job,
                    completed=already + p.done + p.failed,
                    failed=p.failed,
                    acc=f"{p.accuracy * 100:.1f}",
                    rate=f"{(p.done + p.failed) / elapsed:.1f}/s",
                )

            async def go() -> None:
                async with client:
                    for samples in chosen.values():
                        await run_bench(
                            samples,
                            client,
                            task=task,
                            out=predictions,
                            model=name,
                            concurrency=concurrency,
                            on_result=update,
                            tiling=tiling,
                        )

            asyncio.run(go())
        rows, unreadable = read_predictions(predictions)
        scored = score_splits(chosen, rows, dataset=dataset, model=name, unreadable=unreadable)
        config = {
            **run_config,
            "coordinates": f"{profile.name} profile: {profile.describe()}",
            "split source": str(root),
            "N": sum(m["n"] for m in scored["splits"].values()),
            "limit": limit,
            "grounding": __version__,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        }
        paths = write_report(out_dir, scored, config, chosen)
    _print_scores(scored)
    err.print(f"wrote {paths['metrics']}, {paths['markdown']}, {paths['html']}")


datasets_app = typer.Typer(
    help="Evaluation datasets: make a synthetic one for tests and demos.", no_args_is_help=True
)


@datasets_app.command("synth")
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write (RefCOCO layout).")],
    n: Annotated[int, typer.Option("--n", help="Number of images (one ref each).")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same dataset).")] = 0,
) -> None:
    """Write a synthetic RefCOCO-layout dataset: coloured shapes, unambiguous expressions.

    \b
    Example: grounding datasets synth data/synth --n 200, then
    grounding bench refcoco --root data/synth -s val ...
    """
    if n < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--n")
    columns = (TextColumn("writing images"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("synth", total=n)
        root = write_synthetic(
            out_dir, n, seed=seed, on_image=lambda k: bar.update(task, completed=k)
        )
    counts = {
        s: sum(1 for _ in load_samples("refcoco", root, s))
        for s in ("train", "val", "testA", "testB")
    }
    out.print(
        f"wrote {n} images to {root}: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + " sentences"
    )
