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
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from grounding import __version__
from grounding.cli.ask import ApiKey, BaseUrl, Model, Provider, Thinking, Timeout, fail_cleanly
from grounding.cli.options import err, out
from grounding.datasets import DATASETS, TASKS, DatasetError, load_samples
from grounding.datasets.synthetic import write_synthetic
from grounding.evals.report import public_metrics, write_report

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
                table.add_row(key, f"{value * 100:.2f}" if value <= 1 else f"{value:g}")
            elif isinstance(value, int):
                table.add_row(key, str(value))
        out.print(table)
        for warning in metrics.get("warnings", []):
            err.print(f"[yellow]warning:[/] {warning}")
    if public.get("summary"):
        s = public["summary"]
        out.print(
            f"across {s['splits']} splits ({s['key']}): macro {s['macro'] * 100:.2f}, "
            f"weighted {s['weighted'] * 100:.2f}, N = {s['n']}"
        )


def score(
    predictions: Annotated[Path, typer.Argument(help="A predictions.jsonl file.")],
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help=f"One of: {', '.join(DATASETS)}.")
    ],
    root: Root,
    split: Split,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Profile to re-parse raw responses with.")
    ] = "glm-4.5v",
    images: Images = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score a predictions file offline (raw responses are re-parsed: no new requests).

    Lines are {"id", "response"} or {"id", "boxes": [[x1,y1,x2,y2], ...]} in pixels.
    Example: grounding score run/predictions.jsonl -d refcoco --root data/refcoco -s val
    """
    _check_dataset(dataset)
    from grounding.evals.score import score_predictions

    with fail_cleanly():
        try:
            scored = score_predictions(
                predictions,
                dataset=dataset,
                root=root,
                splits=_splits(split),
                model=model,
                images=images,
            )
        except DatasetError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
    if as_json:
        public = public_metrics(scored)
        splits = public.pop("splits")
        body = next(iter(splits.values())) if len(splits) == 1 else {"splits": splits}
        sys.stdout.write(
            json.dumps({**body, **{k: v for k, v in public.items() if v is not None}}) + "\n"
        )
        return
    _print_scores(scored)


def bench(
    dataset: Dataset,
    root: Root,
    split: Split,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Run folder (created; reruns resume).")
    ],
    model: Model = None,
    provider: Provider = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    thinking: Thinking = False,
    images: Images = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="First N samples only.")
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-k", help="Requests in flight.")
    ] = 4,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Skip the response cache.")] = False,
    timeout: Timeout = 300.0,
) -> None:
    """Run a model over a dataset split, then score it and write a report.

    Appends to OUT/predictions.jsonl as it goes (an interrupted run resumes), then writes
    OUT/metrics.json, OUT/report.md and OUT/report.html with a gallery of the worst cases.
    Example: grounding bench refcoco --root data/refcoco -s val -m glm-4.5v -o runs/val -k 8
    """
    _check_dataset(dataset)
    from grounding.client import AsyncClient
    from grounding.evals.bench import BenchProgress, done_ids, run_bench
    from grounding.evals.score import read_predictions, score_splits
    from grounding.profiles import get_profile

    splits = _splits(split)
    task = TASKS[dataset]
    predictions = out_dir / "predictions.jsonl"
    with fail_cleanly():
        try:
            chosen = {
                s: list(islice(load_samples(dataset, root, s, images=images), limit))
                for s in splits
            }
        except DatasetError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        client = AsyncClient(
            provider,
            base_url=base_url,
            api_key=api_key,
            model=model,
            thinking=thinking,
            timeout=timeout,
            cache=not no_cache,
            max_connections=concurrency,
        )
        name = client.model
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
                        )

            asyncio.run(go())
        rows, unreadable = read_predictions(predictions)
        scored = score_splits(chosen, rows, dataset=dataset, model=name, unreadable=unreadable)
        profile = get_profile(name)
        config = {
            "dataset": dataset,
            "split": split,
            "model": name,
            "provider": client.settings.provider.name,
            "base_url": client.settings.base_url,
            "thinking": thinking,
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
