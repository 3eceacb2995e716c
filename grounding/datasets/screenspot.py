"""ScreenSpot v1, v2 and Pro: GUI element grounding, scored by point-in-box.

v1/v2 give ``bbox`` as ``[x, y, w, h]``; Pro as ``[x1, y1, x2, y2]`` with ``img_size``. The
split is an annotation file's stem (``screenspot_mobile``, ``mobile``, ``android_studio_macos``)
or ``all``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

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
        rows = _read_json(path)
        if not isinstance(rows, list):
            raise DatasetError(f"{path}: expected a list of annotations")
        for number, row in enumerate(rows):
            try:
                pro = "img_size" in row
                box = [float(v) for v in row["bbox"]] if pro else xywh_to_xyxy(row["bbox"])
                size = tuple(int(v) for v in row["img_size"]) if pro else None
                yield Sample(
                    id=str(row.get("id", f"{path.stem}-{number}")),
                    image=image_dir / row["img_filename"],
                    expression=str(row["instruction"]),
                    boxes=np.array([box]),
                    split=path.stem,
                    size=size,  # type: ignore[arg-type]
                    meta={
                        k: row[k]
                        for k in (
                            "data_type",
                            "data_source",
                            "ui_type",
                            "platform",
                            "application",
                            "group",
                        )
                        if k in row
                    },
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(
                    f"{path}: entry {number} is not a ScreenSpot row ({exc})"
                ) from None
