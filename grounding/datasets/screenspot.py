"""ScreenSpot v1, v2 and Pro: GUI element grounding, scored by point-in-box.

v1/v2 give ``bbox`` as ``[x, y, w, h]``; Pro as ``[x1, y1, x2, y2]`` with ``img_size``. The
split is an annotation file's stem (``screenspot_mobile``, ``mobile``, ``android_studio_macos``)
or ``all``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from grounding.datasets import checks
from grounding.datasets.base import DatasetError, Sample, xywh_to_xyxy
from grounding.datasets.refcoco import _read_json

__all__ = ["load_screenspot"]


def _files(root: Path, split: str) -> list[Path]:
    folder = root / "annotations" if (root / "annotations").is_dir() else root
    files = sorted(folder.glob("*.json"))
    if split != "all":
        files = [
            f for f in files if f.stem in (split, f"screenspot_{split}", f"screenspot-v2_{split}")
        ]
    if not files:
        raise DatasetError(f"{folder}: no ScreenSpot annotation file for split {split!r}")
    return files


def load_screenspot(
    root: str | Path, split: str = "all", *, images: str | Path | None = None
) -> Iterator[Sample]:
    """Samples whose ``boxes`` hold the target element; ``expression`` is the instruction."""
    root = Path(root)
    image_dir = Path(images) if images is not None else root / "images"
    for path in _files(root, split):
        rows = checks.records(path, "the top level", _read_json(path))
        for number, row in enumerate(rows):
            yield _sample(path, number, row, image_dir)


_META = ("data_type", "data_source", "ui_type", "platform", "application", "group")


def _sample(path: Path, number: int, row: Any, image_dir: Path) -> Sample:
    """One checked ScreenSpot row; the error names the file and the entry."""
    where = f"entry {number}"
    row = checks.mapping(path, where, row)
    raw_box = checks.box(path, where, checks.field(path, where, row, "bbox"))
    size = None
    if "img_size" in row:  # Pro: x1, y1, x2, y2 and the screenshot's size
        img_size = row["img_size"]
        if not isinstance(img_size, list) or len(img_size) != 2:
            checks.fail(path, f"{where} has an img_size that is not [width, height]")
        size = checks.size(path, where, *img_size)
        box = raw_box
    else:
        box = xywh_to_xyxy(raw_box)
    image = checks.text(
        path, f"{where} img_filename", checks.field(path, where, row, "img_filename")
    )
    instruction = checks.field(path, where, row, "instruction")
    return Sample(
        id=str(checks.identifier(path, where, row.get("id", f"{path.stem}-{number}"))),
        image=image_dir / image,
        expression=checks.text(path, f"{where} instruction", instruction),
        boxes=np.array([box]),
        split=path.stem,
        size=size,
        meta={k: row[k] for k in _META if k in row},
    )
