"""Merging what the tiles found: one object seen by two tiles, or cut by a border, is one.

Boxes follow SAHI's postprocess exactly (``sahi.postprocess.combine``, checked against it in
``tests/tiling/test_sahi_agreement.py``): candidates in score order (ties by x1, y1, x2, y2),
compared by IoU or IoS (intersection over the smaller area); **NMS** keeps the first of each
matching group, **greedy NMM** grows the first into the union box of those it matches (each
match re-checked against the box as it grows). VLM answers carry no confidence, so a box's
score is its area: the largest box of a group (often the whole-image view of a large object)
absorbs the pieces. Everything is per class (label); ``None`` is a class of its own.

>>> boxes = np.array([[0, 0, 60, 40], [50, 0, 100, 40], [300, 300, 310, 310]], float)
>>> groups = greedy_nmm(boxes, boxes_area(boxes), metric="ios", threshold=0.2)
>>> groups
{0: [1], 2: []}
>>> merge_boxes(boxes, groups, metric="ios", threshold=0.2).tolist()
[[0.0, 0.0, 100.0, 40.0], [300.0, 300.0, 310.0, 310.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "MergeOptions",
    "boxes_area",
    "greedy_nmm",
    "merge_boxes",
    "merge_labelled_boxes",
    "merge_points",
    "merge_polygons",
    "nms",
    "pairwise",
]

FloatArray = npt.NDArray[np.float64]
Metric = Literal["iou", "ios"]
Method = Literal["greedy_nmm", "nms"]


@dataclass(frozen=True)
class MergeOptions:
    """How answers from overlapping tiles become one set of shapes.

    ``method`` is ``"greedy_nmm"`` (join matching boxes into their union: pieces of an object
    cut by a tile border become one box) or ``"nms"`` (keep the largest of matching boxes).
    ``metric`` is ``"ios"`` (intersection over the smaller box: a piece inside a whole is a
    match) or ``"iou"``; two boxes match at ``metric >= threshold``. Points of a class closer
    than ``point_distance`` pixels are one point (None: 1 % of the image's shorter side).
    Polygons of a class whose ``metric`` reaches ``threshold`` are replaced by their union.
    """

    method: Method = "greedy_nmm"
    metric: Metric = "ios"
    threshold: float = 0.5
    point_distance: float | None = None

    def __post_init__(self) -> None:
        if self.method not in ("greedy_nmm", "nms"):
            raise ValueError(f"merge method must be greedy_nmm or nms, got {self.method!r}")
        if self.metric not in ("iou", "ios"):
            raise ValueError(f"merge metric must be iou or ios, got {self.metric!r}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"merge threshold must be in (0, 1], got {self.threshold}")
        if self.point_distance is not None and self.point_distance < 0:
            raise ValueError(f"point distance must be >= 0, got {self.point_distance}")


def boxes_area(boxes: FloatArray) -> FloatArray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def pairwise(boxes: FloatArray, metric: Metric) -> npt.NDArray[np.float32]:
    """The N×N IoU or IoS matrix, in float32 as SAHI computes it (0 where areas are 0)."""
    area = boxes_area(boxes)
    x1 = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    y1 = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    x2 = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
    y2 = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
    inter = np.maximum(0, x2 - x1) * np.maximum(0, y2 - y1)
    if metric == "iou":
        denominator = area[:, None] + area[None, :] - inter
    else:
        denominator = np.minimum(area[:, None], area[None, :])
    out = np.zeros_like(inter)
    np.divide(inter, denominator, out=out, where=denominator > 0)
    matrix: npt.NDArray[np.float32] = out.astype(np.float32)
    return matrix


def _order(boxes: FloatArray, scores: FloatArray) -> npt.NDArray[np.intp]:
    """Score descending, ties by x1, y1, x2, y2 ascending (SAHI's ``_score_tiebreak_order``)."""
    return np.lexsort((boxes[:, 3], boxes[:, 2], boxes[:, 1], boxes[:, 0], -scores))


def nms(boxes: FloatArray, scores: FloatArray, *, metric: Metric, threshold: float) -> list[int]:
    """Indices kept by non-maximum suppression, best first (one class)."""
    if not len(boxes):
        return []
    matrix = pairwise(boxes, metric)
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for idx in _order(boxes, scores):
        if suppressed[idx]:
            continue
        keep.append(int(idx))
        suppressed |= matrix[idx] >= threshold
    return keep


def greedy_nmm(
    boxes: FloatArray, scores: FloatArray, *, metric: Metric, threshold: float
) -> dict[int, list[int]]:
    """Greedy non-maximum merging (one class): each keeper and the later boxes it matches.

    The matched boxes are then joined one by one in :func:`merge_boxes`, each re-checked
    against the grown box, as SAHI does.
    """
    if not len(boxes):
        return {}
    matrix = pairwise(boxes, metric)
    order = _order(boxes, scores)
    groups: dict[int, list[int]] = {}
    suppressed = np.zeros(len(boxes), dtype=bool)
    for i, idx in enumerate(order):
        if suppressed[idx]:
            continue
        later = order[i + 1 :]
        later = later[~suppressed[later]]
        matched = later[matrix[idx, later] >= threshold]
        suppressed[matched] = True
        groups[int(idx)] = [int(m) for m in matched]
    return groups


def _metric(a: FloatArray, b: FloatArray, metric: Metric) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    denominator = area_a + area_b - inter if metric == "iou" else min(area_a, area_b)
    return float(inter / denominator) if denominator > 0 else 0.0


def merge_boxes(
    boxes: FloatArray,
    groups: dict[int, list[int]] | list[int],
    *,
    metric: Metric,
    threshold: float,
) -> FloatArray:
    """The kept boxes: for NMS (a list) as they are; for NMM groups each keeper grown into
    the union of the group's boxes that still match it as it grows (others are dropped,
    as in SAHI)."""
    if isinstance(groups, list):
        return boxes[groups].reshape(-1, 4)
    out: list[FloatArray] = []
    for keeper, members in groups.items():
        box = boxes[keeper].copy()
        for m in members:
            if _metric(box, boxes[m], metric) >= threshold:
                box[:2] = np.minimum(box[:2], boxes[m, :2])
                box[2:] = np.maximum(box[2:], boxes[m, 2:])
        out.append(box)
    return np.asarray(out, dtype=np.float64).reshape(-1, 4)


def _by_label(labels: Sequence[str | None]) -> dict[str | None, list[int]]:
    classes: dict[str | None, list[int]] = {}
    for i, label in enumerate(labels):
        classes.setdefault(label, []).append(i)
    return classes


def merge_labelled_boxes(
    boxes: FloatArray, labels: Sequence[str | None], options: MergeOptions
) -> tuple[FloatArray, list[str | None]]:
    """Merge per class; classes in order of first appearance, boxes best first."""
    out_boxes: list[FloatArray] = []
    out_labels: list[str | None] = []
    for label, idx in _by_label(labels).items():
        subset = boxes[idx]
        scores = boxes_area(subset)
        if options.method == "nms":
            keep = nms(subset, scores, metric=options.metric, threshold=options.threshold)
            kept = merge_boxes(subset, keep, metric=options.metric, threshold=options.threshold)
        else:
            groups = greedy_nmm(subset, scores, metric=options.metric, threshold=options.threshold)
            kept = merge_boxes(subset, groups, metric=options.metric, threshold=options.threshold)
        out_boxes.append(kept)
        out_labels.extend([label] * len(kept))
    merged = np.vstack(out_boxes) if out_boxes else np.empty((0, 4))
    return merged, out_labels


def merge_points(
    points: FloatArray, labels: Sequence[str | None], distance: float
) -> tuple[FloatArray, list[str | None]]:
    """Per class, a point closer than ``distance`` to one already kept is the same point."""
    kept: list[int] = []
    for idx in _by_label(labels).values():
        chosen: list[int] = []
        for i in idx:
            if all(np.hypot(*(points[i] - points[j])) >= distance for j in chosen):
                chosen.append(i)
        kept.extend(chosen)
    return points[kept].reshape(-1, 2), [labels[i] for i in kept]


def merge_polygons(
    polygons: Sequence[FloatArray], labels: Sequence[str | None], options: MergeOptions
) -> tuple[list[FloatArray], list[str | None]]:
    """Per class, greedily (largest first) replace polygons that match by their union."""
    import shapely

    out: list[FloatArray] = []
    out_labels: list[str | None] = []
    for label, all_idx in _by_label(labels).items():
        idx = [i for i in all_idx if len(polygons[i]) >= 3]
        for i in all_idx:  # fewer than 3 vertices: no area to merge by; kept as given
            if len(polygons[i]) < 3:
                out.append(np.asarray(polygons[i], dtype=np.float64).reshape(-1, 2))
                out_labels.append(label)
        shapes = [shapely.make_valid(shapely.Polygon(polygons[i])) for i in idx]
        order = sorted(range(len(idx)), key=lambda k: -shapes[k].area)
        used = [False] * len(idx)
        for k in order:
            if used[k]:
                continue
            used[k] = True
            union = shapes[k]
            for m in order:
                if used[m]:
                    continue
                inter = union.intersection(shapes[m]).area
                denominator = (
                    union.area + shapes[m].area - inter
                    if options.metric == "iou"
                    else min(union.area, shapes[m].area)
                )
                if denominator > 0 and inter / denominator >= options.threshold:
                    joined = shapely.union(union, shapes[m])
                    if isinstance(joined, shapely.Polygon):
                        union, used[m] = joined, True
            if isinstance(union, shapely.Polygon) and not union.is_empty:
                coords = np.asarray(union.exterior.coords, dtype=np.float64)[:-1]
                out.append(coords)
            else:  # a degenerate input polygon (a line, a point): keep it as given
                out.append(np.asarray(polygons[idx[k]], dtype=np.float64).reshape(-1, 2))
            out_labels.append(label)
    return out, out_labels
