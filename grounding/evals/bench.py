"""Run a model over a dataset split: concurrent, cached, resumable, line by line.

Each finished sample is appended to ``predictions.jsonl`` at once (id, raw response, parsed
result, latency, usage), so an interrupted run resumes where it stopped: ids already in the
file are skipped. Per-sample failures (unreadable image, blocked content, a bad request) are
written as ``{"id", "error"}`` lines and retried by the next run; fatal ones (authentication,
arrears, quota) stop the run with everything done kept.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from grounding.client import AsyncClient
from grounding.datasets import Sample
from grounding.errors import (
    AccountError,
    APIConnectionError,
    AuthenticationError,
    GroundingError,
    QuotaExceededError,
)
from grounding.evals.metrics import iou, point_in_box
from grounding.prompts import Task
from grounding.result import Grounding
from grounding.tiling import Tiling, aground_with_tiles

__all__ = [
    "RUN_CONFIG",
    "BenchProgress",
    "config_differences",
    "done_ids",
    "read_run_config",
    "run_bench",
    "write_run_config",
]

RUN_CONFIG = "run.json"
# what decides the answers in a run folder; a resume with any of them changed would mix runs
RUN_KEYS = (
    "dataset", "split", "model", "provider", "base_url", "prompt", "thinking",
    "temperature", "max_tokens", "parser", "tiling", "confidence",
)  # fmt: skip

FATAL = (AuthenticationError, AccountError, QuotaExceededError, APIConnectionError)


class BenchProgress:
    """Counts for the progress bar: done, failed and the running Acc@0.5."""

    def __init__(self) -> None:
        self.done = 0
        self.failed = 0
        self.correct = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.done if self.done else 0.0


def done_ids(path: Path) -> set[str]:
    """Ids that already have an answer (not an error) in a predictions file."""
    ids: set[str] = set()
    if not path.exists():
        return ids
    with path.open(encoding="utf-8") as file:
        for line in file:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash: that sample runs again
            if "error" not in row:
                ids.add(str(row["id"]))
    return ids


def read_run_config(folder: Path) -> dict[str, Any] | None:
    """The configuration a run folder was made with (``run.json``), or None."""
    path = folder / RUN_CONFIG
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def write_run_config(folder: Path, config: dict[str, Any]) -> Path:
    """Record ``config`` in ``folder/run.json`` (the folder is created)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_CONFIG
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def config_differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between a run folder's configuration and this run's, in words.

    >>> config_differences({"model": "glm-4.5v", "thinking": False},
    ...                    {"model": "qwen2.5-vl", "thinking": False})
    ["model: 'glm-4.5v' in the folder, 'qwen2.5-vl' now"]
    """
    return [
        f"{key}: {stored.get(key)!r} in the folder, {current.get(key)!r} now"
        for key in RUN_KEYS
        if (key in stored or key in current) and stored.get(key) != current.get(key)
    ]


def _subject(sample: Sample, task: Task) -> str | list[str]:
    if task == "detect":
        return list(sample.categories)
    return sample.expression or ""


def _correct(result: Grounding, sample: Sample, task: str) -> bool:
    if task == "gui":
        if len(result.points):
            point = result.points[0]
        elif len(result.boxes):
            b = result.boxes[0]
            point = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
        else:
            return False
        return bool(point_in_box(point, sample.boxes[:1])[0])
    if task == "detect" or not len(result.boxes):
        return False
    return bool(iou(result.boxes[:1], sample.boxes[:1])[0] >= 0.5)


async def run_bench(
    samples: Iterable[Sample],
    client: AsyncClient,
    *,
    task: Task,
    out: Path,
    model: str | None = None,
    concurrency: int = 4,
    on_result: Callable[[BenchProgress], None] | None = None,
    tiling: Tiling | None = None,
) -> BenchProgress:
    """Answer every sample not yet in ``out`` (a predictions.jsonl) and append the answers.

    With ``tiling`` each sample is asked tile by tile; its line then holds the merged pixel
    boxes (``boxes``/``labels``/``points``) instead of a raw response to re-parse.
    """
    skip = done_ids(out)
    progress = BenchProgress()
    pending = (s for s in samples if s.id not in skip)
    stop: list[BaseException] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as file:

        def write(row: dict[str, Any]) -> None:
            file.write(json.dumps(row, ensure_ascii=False) + "\n")
            file.flush()

        async def worker() -> None:
            for sample in pending:
                if stop:
                    return
                try:
                    subject = _subject(sample, task)
                    if tiling is None:
                        result = await client.ground(task, sample.image, subject, model=model)
                    else:
                        result = await aground_with_tiles(
                            client, task, sample.image, subject, tiling, model=model
                        )
                except FATAL as exc:
                    stop.append(exc)
                    return
                except GroundingError as exc:
                    write({"id": sample.id, "error": f"{type(exc).__name__}: {exc}"})
                    progress.failed += 1
                else:
                    response = result.response
                    answer: dict[str, Any] = {"response": response.answer()[0] if response else ""}
                    if client.confidence.method != "none":  # scores come from more than the text
                        answer["confidence"] = client.confidence.method
                    if tiling is not None:  # tile answers are in tile pixels: keep the merge
                        answer = {
                            "boxes": result.boxes.tolist(),
                            "labels": result.labels,
                            "points": result.points.tolist(),
                        }
                    write(
                        {
                            "id": sample.id,
                            **answer,
                            "parsed": result.to_dict(),
                            "latency": round(response.latency, 4) if response else None,
                            "usage": asdict(response.usage) if response else None,
                            "cached": bool(response and response.cached),
                        }
                    )
                    progress.done += 1
                    progress.correct += _correct(result, sample, task)
                if on_result:
                    on_result(progress)

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    if stop:
        raise stop[0]
    return progress
