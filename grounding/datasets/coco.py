"""COCO detection (``instances.json`` + images): every category of an image is asked for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from grounding.datasets.base import DatasetError, Sample, xywh_to_xyxy
from grounding.datasets.refcoco import _read_json, index_instances

__all__ = ["find_instances", "load_coco"]


def find_instances(root: Path, split: str) -> Path:
    """``annotations/instances_SPLIT.json``, ``instances_SPLIT.json`` or ``instances.json``."""
    for candidate in (
        root / "annotations" / f"instances_{split}.json",
        root / f"instances_{split}.json",
        root / "instances.json",
    ):
        if candidate.exists():
            return candidate
    raise DatasetError(f"{root}: no annotations/instances_{split}.json or instances.json")


def load_coco(
    root: str | Path,
    split: str,
    *,
    images: str | Path | None = None,
    categories: list[str] | None = None,
) -> Iterator[Sample]:
    """One sample per image; ``categories`` defaults to every category of the dataset.

    Crowd annotations are kept out of the ground truth list but recorded in ``meta``.
    """
    root = Path(root)
    path = find_instances(root, split)
    anns, images_by_id, names = index_instances(path, _read_json(path))
    asked = tuple(categories or names.values())
    by_image: dict[int | str, list[dict[str, Any]]] = defaultdict(list)
    for ann in anns.values():
        by_image[ann["image_id"]].append(ann)
    base = (
        Path(images)
        if images is not None
        else (root / split if (root / split).is_dir() else root / "images")
    )
    for image in images_by_id.values():
        kept = [a for a in by_image.get(image["id"], []) if not a.get("iscrowd")]
        yield Sample(
            id=str(image["id"]),
            image=base / image["file_name"],
            expression=None,
            boxes=np.array([xywh_to_xyxy(a["bbox"]) for a in kept]).reshape(-1, 4),
            split=split,
            size=(int(image["width"]), int(image["height"])),
            labels=tuple(names.get(a.get("category_id"), "") for a in kept),
            categories=asked,
            meta={"image_id": image["id"], "instances": str(path)},
        )
