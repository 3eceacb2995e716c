"""The review list: images with a doubtful shape, worst first, for a person to check.

An image goes on the list when any of its shapes has a confidence under the threshold; the
list is sorted by each image's least sure shape. It is written as ``review/review.csv`` (key,
source, worst score, how many shapes are under the threshold) and as Label Studio tasks
(``review/labelstudio/tasks.json``, in the same order, with the scores), so a reviewer can
open the doubtful images first.

>>> import tempfile, pathlib
>>> from grounding.labeling import Item, JobStore
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> store = JobStore(out / "job.sqlite")
>>> _ = store.add([Item("a.jpg", str(out / "a.jpg"), str(out))])
>>> store.finish("a.jpg", status="done", size=(40, 30), result={"boxes": [
...     {"xyxy": [1, 2, 11, 12], "label": "dent", "confidence": 0.3}]})
>>> [(r.key, r.worst) for r in review_rows([store], 0.5)]
[('a.jpg', 0.3)]
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from grounding.labeling.store import JobStore

__all__ = ["ReviewRow", "review_rows", "write_review"]


@dataclass(frozen=True)
class ReviewRow:
    key: str
    source: str
    worst: float
    doubtful: int


def _scores(result: dict[str, Any] | None) -> Iterator[float]:
    for kind in ("boxes", "polygons", "points"):
        for shape in (result or {}).get(kind) or []:
            value = shape.get("confidence")
            if value is not None and math.isfinite(float(value)):
                yield float(value)


def review_rows(stores: Sequence[JobStore], threshold: float) -> list[ReviewRow]:
    """Done images with a shape scored under ``threshold``, least sure first."""
    rows = []
    for store in stores:
        for row in store.rows("done"):
            scores = list(_scores(row.result))
            doubtful = sum(1 for s in scores if s < threshold)
            if doubtful:
                rows.append(ReviewRow(row.key, row.source, min(scores), doubtful))
    return sorted(rows, key=lambda r: (r.worst, r.key))


def write_review(
    stores: Sequence[JobStore],
    out: Path,
    threshold: float,
    classes: Sequence[str],
    **labelstudio: Any,
) -> tuple[int, Path]:
    """Write ``out/review/``; returns how many images need a look and the CSV's path."""
    from grounding.export import export_job

    rows = review_rows(stores, threshold)
    folder = out / "review"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "review.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        table = csv.writer(file)
        table.writerow(["key", "source", "worst score", f"shapes under {threshold}"])
        table.writerows([r.key, r.source, f"{r.worst:.4f}", r.doubtful] for r in rows)
    wanted = {r.key for r in rows}
    if wanted:
        order = {r.key: n for n, r in enumerate(rows)}
        # the export reads rows in its stores' order: a selection in review order (duck-typed)
        review = cast(JobStore, _Selection(stores, wanted, order))
        export_job([review], folder, classes=classes, formats=["labelstudio"], **labelstudio)
        (folder / "failed.csv").unlink(missing_ok=True)  # the job's own lists the failures
    return len(rows), path


class _Selection:
    """The review's rows of ``stores`` as one store, in review order (for the export)."""

    def __init__(self, stores: Sequence[JobStore], keys: set[str], order: dict[str, int]):
        self.stores, self.keys, self.order = stores, keys, order

    def rows(self, *statuses: str) -> Iterator[Any]:
        if statuses and "done" not in statuses:
            return iter(())
        found = [row for s in self.stores for row in s.rows("done") if row.key in self.keys]
        return iter(sorted(found, key=lambda row: self.order[row.key]))

    def counts(self) -> dict[str, int]:
        return {"done": len(self.keys)}
