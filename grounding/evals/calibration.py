"""How far to trust a score: reliability bins, expected calibration error, and their picture.

A detection is right when it matches a ground-truth box of its class at IoU >= 0.5, taken
greedily from the most confident down (as COCO matches). Scores are put in equal-width bins;
a well-calibrated source has, in each bin, a precision close to the bin's mean score. The
expected calibration error (ECE) is the mean gap, weighted by how many detections each bin
holds (Guo et al., 2017; Küppers et al., 2020 for detection).

>>> correct = match_detections([[0, 0, 10, 10], [50, 50, 60, 60]], ["a", "a"], [0.9, 0.2],
...                            [[0, 0, 10, 10]], ["a"])
>>> correct.tolist()
[True, False]
>>> round(expected_calibration_error([0.9, 0.2], correct, bins=10), 3)
0.15
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from grounding.evals.metrics import iou_matrix

__all__ = [
    "ReliabilityBin",
    "expected_calibration_error",
    "match_detections",
    "reliability",
    "reliability_svg",
]


@dataclass(frozen=True)
class ReliabilityBin:
    """Detections whose score is in [low, high): how many, their mean score, their precision."""

    low: float
    high: float
    count: int
    confidence: float
    precision: float


def match_detections(
    boxes: Any,
    labels: Sequence[object],
    scores: Any,
    gt_boxes: Any,
    gt_labels: Sequence[object],
    iou: float = 0.5,
) -> npt.NDArray[np.bool_]:
    """One flag per detection: does it match an unmatched ground-truth box of its class?"""
    pred = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(
        -np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-1.0), kind="stable"
    )
    correct = np.zeros(len(pred), dtype=bool)
    if not len(pred) or not len(gt):
        return correct
    overlaps = iou_matrix(pred, gt)
    taken = np.zeros(len(gt), dtype=bool)
    for i in order:
        candidates = [
            j
            for j in range(len(gt))
            if not taken[j] and gt_labels[j] == labels[i] and overlaps[i, j] >= iou
        ]
        if candidates:
            best = max(candidates, key=lambda j: overlaps[i, j])
            taken[best] = correct[i] = True
    return correct


def reliability(scores: Any, correct: Any, bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; empty bins are left out. NaN scores are ignored."""
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(correct, dtype=bool)
    known = np.isfinite(s)
    s, c = s[known], c[known]
    index = np.minimum((s * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        members = index == b
        if members.any():
            out.append(
                ReliabilityBin(
                    b / bins,
                    (b + 1) / bins,
                    int(members.sum()),
                    float(s[members].mean()),
                    float(c[members].mean()),
                )
            )
    return out


def expected_calibration_error(scores: Any, correct: Any, bins: int = 10) -> float:
    """The count-weighted mean of |precision - mean score| over the bins (NaN if no scores)."""
    table = reliability(scores, correct, bins)
    total = sum(b.count for b in table)
    if not total:
        return float("nan")
    return sum(b.count * abs(b.precision - b.confidence) for b in table) / total


def reliability_svg(table: Sequence[ReliabilityBin], size: int = 240) -> str:
    """A reliability diagram as inline SVG: precision bars per score bin, and the diagonal."""
    pad = 28
    inner = size - 2 * pad
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" font-family="sans-serif" font-size="10">',
        f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="none" stroke="#999"/>',
    ]
    for b in table:
        x = pad + b.low * inner
        width = (b.high - b.low) * inner
        height = b.precision * inner
        parts.append(
            f'<rect x="{x:.1f}" y="{pad + inner - height:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="#4a78c2" fill-opacity="0.75" stroke="#fff">'
            f"<title>{b.low:.1f}-{b.high:.1f}: {b.count} boxes, precision {b.precision:.2f}"
            "</title></rect>"
        )
    parts += [
        f'<line x1="{pad}" y1="{pad + inner}" x2="{pad + inner}" y2="{pad}" stroke="#c33" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{size / 2}" y="{size - 6}" text-anchor="middle">confidence</text>',
        f'<text x="10" y="{size / 2}" text-anchor="middle" '
        f'transform="rotate(-90 10 {size / 2})">precision</text>',
        "</svg>",
    ]
    return "".join(parts)
