"""What the job holds, read from job.sqlite, to compare each tool's loaded dataset against."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grounding.labeling import JobStore
from tests.export.conftest import CLASSES, TRICKY

NAMES = {case.key: case.name for case in TRICKY}


@dataclass
class Truth:
    """One image of the job: size and shapes (class name, coordinates) in pixels."""

    size: tuple[int, int]
    boxes: list[tuple[str, list[float]]] = field(default_factory=list)
    polygons: list[tuple[str, list[list[float]]]] = field(default_factory=list)
    points: list[tuple[str, list[float]]] = field(default_factory=list)

    def detection_boxes(self) -> list[tuple[str, list[float]]]:
        """Boxes plus each polygon's bounds: what a detection format can hold."""
        bounds = [(label, [min(p[0] for p in v), min(p[1] for p in v), max(p[0] for p in v), max(p[1] for p in v)])
                  for label, v in self.polygons]  # fmt: skip
        return self.boxes + bounds


def job_truth(store_path: Path) -> dict[str, Truth]:
    """Exported file name -> what the job holds for that image."""
    truth = {}
    with JobStore(store_path) as store:
        for row in store.rows("done"):
            result = row.result or {}
            truth[NAMES[row.key]] = Truth(
                (row.width, row.height),
                [(b["label"], b["xyxy"]) for b in result.get("boxes", [])],
                [(p["label"], p["points"]) for p in result.get("polygons", [])],
                [(p["label"], p["xy"]) for p in result.get("points", [])],
            )
    return truth


def assert_same_boxes(got: list[tuple[str, list[float]]], want: list[tuple[str, list[float]]], where: str) -> None:
    """The same classes and every box within 0.5 px (order-free: sorted by class, then x1)."""
    got, want = sorted(got, key=lambda b: (b[0], b[1][0])), sorted(want, key=lambda b: (b[0], b[1][0]))
    assert [g[0] for g in got] == [w[0] for w in want], f"{where}: classes {got} != {want}"
    for (_, g), (_, w) in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=0.5, rtol=0, err_msg=where)


def quietly(call, *args, **kwargs):
    """Run a loader that prints progress to stdout (pycocotools) without the noise."""
    with contextlib.redirect_stdout(io.StringIO()):
        return call(*args, **kwargs)


__all__ = ["CLASSES", "NAMES", "Truth", "assert_same_boxes", "job_truth", "quietly"]
