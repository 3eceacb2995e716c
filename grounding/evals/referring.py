"""Referring-expression and GUI grounding scores, exactly as the reference implementations.

The first predicted box is the answer. A missing or unparseable answer counts as wrong and
stays in N; the count of such failures and the valid-only accuracy are reported beside.

>>> s = score_referring([[0, 0, 10, 10], None], [[0, 0, 10, 10], [0, 0, 5, 5]])
>>> s["n"], s["acc@0.5"], s["n_parse_fail"], s["acc@0.5_valid"]
(2, 0.5, 1, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grounding.evals.metrics import _area, _ratio, centre_in_box, intersection_union, point_in_box

__all__ = ["THRESHOLDS", "aggregate_splits", "score_points", "score_referring"]

THRESHOLDS = (0.5, 0.75, 0.9)


def _predictions(predictions: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """An N×4 array (NaN rows for missing answers) and the mask of valid rows."""
    valid = np.array([p is not None and len(p) == 4 for p in predictions], dtype=bool)
    boxes = np.full((len(predictions), 4), np.nan)
    if valid.any():
        boxes[valid] = np.array(
            [p for p in predictions if p is not None and len(p) == 4], dtype=np.float64
        )
    return boxes, valid


def score_referring(
    predictions: Sequence[Any] | np.ndarray,
    ground_truth: Sequence[Any] | np.ndarray,
    *,
    strict: bool = False,
    valid: np.ndarray | None = None,
) -> dict[str, Any]:
    """Acc@0.5/0.75/0.9, mIoU, cIoU, centre accuracy, parse failures and valid-only accuracy.

    ``predictions`` holds one xyxy box per sample or None; or pass an N×4 array and ``valid``.
    ``strict`` compares with ``>`` (Ref-L4) instead of ``>=``.
    """
    if valid is None:
        boxes, valid = _predictions(list(predictions))
    else:
        boxes = np.asarray(predictions, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(ground_truth, dtype=np.float64).reshape(-1, 4)
    n = len(gt)
    n_valid = int(valid.sum())
    everything = n_valid == n
    inter, union = intersection_union(
        boxes if everything else np.where(valid[:, None], boxes, 0.0), gt
    )
    if not everything:  # a missing answer: no intersection, and the union is the GT's area
        inter[~valid] = 0.0
        union[~valid] = _area(gt[~valid])
    ious = _ratio(inter, union)
    result: dict[str, Any] = {"n": n, "n_parse_fail": n - n_valid}
    for t in THRESHOLDS:
        hit = (ious > t) if strict else (ious >= t)
        result[f"acc@{t}"] = float(np.count_nonzero(hit) / n) if n else 0.0
        valid_hits = hit if everything else hit[valid]
        result[f"acc@{t}_valid"] = float(np.count_nonzero(valid_hits) / n_valid) if n_valid else 0.0
    result["miou"] = float(ious.mean()) if n else 0.0
    total_union = float(union.sum())
    result["ciou"] = float(inter.sum()) / total_union if total_union > 0 else 0.0
    centre = centre_in_box(boxes, gt) if everything else np.zeros(n, dtype=bool)
    if not everything:
        centre[valid] = centre_in_box(boxes[valid], gt[valid])
    result["centre_acc"] = float(np.count_nonzero(centre) / n) if n else 0.0
    result["ious"] = ious
    return result


def score_points(points: Sequence[Any], ground_truth: Sequence[Any]) -> dict[str, Any]:
    """ScreenSpot: correct when the predicted point (a box counts by its centre) is in the box."""
    p = np.full((len(points), 2), np.nan)
    for i, value in enumerate(points):
        if value is not None and len(value) == 2:
            p[i] = value
        elif value is not None and len(value) == 4:
            p[i] = [(value[0] + value[2]) / 2, (value[1] + value[3]) / 2]
    hit = point_in_box(p, ground_truth)
    n, failed = len(p), int(np.isnan(p[:, 0]).sum())
    valid = ~np.isnan(p[:, 0])
    return {
        "n": n,
        "n_parse_fail": failed,
        "point_acc": float(hit.mean()) if n else 0.0,
        "point_acc_valid": float(hit[valid].mean()) if valid.any() else 0.0,
    }


def aggregate_splits(
    per_split: Mapping[str, Mapping[str, Any]], key: str = "acc@0.5"
) -> dict[str, Any]:
    """Averages across splits, N always shown.

    ``macro`` is the plain mean (named ``avg8`` as well when there are the eight RefCOCO
    splits, the papers' "RefCOCO-avg"), ``avg_val3`` the mean of the three val splits of
    RefCOCO, RefCOCO+ and RefCOCOg (named ``…/val``; the other convention), ``weighted`` the
    mean weighted by sample count. An aggregate whose parts are not all there is None, never
    a mean of what happens to be present.

    >>> splits = {"val": {"n": 10, "acc@0.5": 0.9}, "testA": {"n": 30, "acc@0.5": 0.5}}
    >>> s = aggregate_splits(splits)
    >>> round(s["weighted"], 6), s["avg_val3"], s["avg8"]
    (0.6, None, None)
    """
    names = list(per_split)
    values = [per_split[s][key] for s in names]
    weights = [per_split[s]["n"] for s in names]
    vals = [per_split[s][key] for s in names if s == "val" or s.endswith("/val")]
    macro = float(np.mean(values)) if values else 0.0
    return {
        "splits": len(names),
        "n": int(sum(weights)),
        "macro": macro,
        "avg8": macro if len(names) == 8 else None,
        "avg_val3": float(np.mean(vals)) if len(vals) == 3 else None,
        "weighted": float(np.average(values, weights=weights)) if sum(weights) else 0.0,
        "key": key,
    }
