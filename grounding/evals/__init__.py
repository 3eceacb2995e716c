"""Grounding metrics scored exactly like the reference implementations, and benchmark runs.

>>> from grounding.evals import iou, score_referring
>>> iou([[0, 0, 10, 10]], [[0, 0, 10, 5]]).tolist()
[0.5]
"""

from __future__ import annotations

from grounding.evals.bench import run_bench
from grounding.evals.detection import COCO_STATS, coco_map, precision_recall_f1
from grounding.evals.metrics import (
    centre_in_box,
    intersection_union,
    iou,
    iou_matrix,
    point_in_box,
    polygon_iou,
)
from grounding.evals.referring import THRESHOLDS, aggregate_splits, score_points, score_referring
from grounding.evals.report import write_report
from grounding.evals.score import read_predictions, score_predictions, score_samples

__all__ = [
    "COCO_STATS",
    "THRESHOLDS",
    "aggregate_splits",
    "centre_in_box",
    "coco_map",
    "intersection_union",
    "iou",
    "iou_matrix",
    "point_in_box",
    "polygon_iou",
    "precision_recall_f1",
    "read_predictions",
    "run_bench",
    "score_points",
    "score_predictions",
    "score_referring",
    "score_samples",
    "write_report",
]
