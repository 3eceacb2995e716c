"""Evaluation datasets: RefCOCO family, COCO detection, ScreenSpot, and a synthetic generator.

>>> import tempfile
>>> root = synthetic.write_synthetic(tempfile.mkdtemp(), n=20, seed=0)
>>> sample = next(load_samples("refcoco", root, "val"))
>>> sample.expression.startswith("the "), sample.boxes.shape
(True, (1, 4))
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from grounding.datasets import synthetic
from grounding.datasets.base import DatasetError, Sample
from grounding.datasets.coco import load_coco
from grounding.datasets.refcoco import REFERRING, load_jsonl, load_parquet, load_refcoco
from grounding.datasets.safe_pickle import safe_load
from grounding.datasets.screenspot import load_screenspot
from grounding.prompts import Task

__all__ = [
    "DATASETS",
    "DatasetError",
    "Sample",
    "load_coco",
    "load_jsonl",
    "load_parquet",
    "load_refcoco",
    "load_samples",
    "load_screenspot",
    "safe_load",
    "synthetic",
]

DATASETS = ("refcoco", "refcoco+", "refcocog", "coco", "screenspot")
TASKS: dict[str, Task] = {
    "refcoco": "locate",
    "refcoco+": "locate",
    "refcocog": "locate",
    "coco": "detect",
    "screenspot": "gui",
}


def load_samples(
    dataset: str, root: str | Path, split: str, *, images: str | Path | None = None
) -> Iterator[Sample]:
    """The samples of ``dataset``/``split`` under ``root``, lazily.

    For the RefCOCO family ``root`` may also be a ``.jsonl`` or ``.parquet`` file.
    """
    root = Path(root)
    if dataset in REFERRING:
        if root.suffix == ".jsonl":
            return load_jsonl(root, split, images=images)
        if root.suffix == ".parquet":
            return load_parquet(root, split)
        return load_refcoco(root, split, dataset=dataset, images=images)
    if dataset == "coco":
        return load_coco(root, split, images=images)
    if dataset == "screenspot":
        return load_screenspot(root, split, images=images)
    raise DatasetError(f"unknown dataset {dataset!r}: use one of {', '.join(DATASETS)}")
