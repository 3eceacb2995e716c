"""COCO detection scores through pycocotools, and precision/recall/F1 at IoU 0.5.

VLMs give no confidence: every detection gets score 1.0 (the community convention), so AP
depends on the order the detections are listed in; a warning says so.
"""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from grounding.evals.metrics import iou_matrix

__all__ = ["COCO_STATS", "coco_map", "precision_recall_f1"]

COCO_STATS = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)


def coco_map(
    gt_images: Sequence[dict[str, Any]],
    gt_annotations: Sequence[dict[str, Any]],
    categories: Sequence[dict[str, Any]],
    detections: Sequence[dict[str, Any]],
) -> tuple[dict[str, float], list[str]]:
    """The 12 standard COCO stats by name, and warnings.

    ``gt_*`` and ``categories`` are COCO dicts (ids from 1, ``area`` and ``iscrowd`` filled
    in if missing); ``detections`` are ``{"image_id", "category_id", "bbox": [x,y,w,h],
    "score"?}``. With no detections at all every stat is 0.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    warnings: list[str] = []
    annotations = []
    for k, ann in enumerate(gt_annotations, 1):
        a = dict(ann)
        a.setdefault("id", k)
        a.setdefault("iscrowd", 0)
        a.setdefault("area", float(a["bbox"][2] * a["bbox"][3]))
        annotations.append(a)
    if any(a["id"] == 0 for a in annotations):
        raise ValueError("annotation ids must start at 1 (id 0 silently breaks pycocotools)")
    dets = []
    unscored = 0
    for d in detections:
        d = dict(d)
        if "score" not in d:
            d["score"] = 1.0
            unscored += 1
        dets.append(d)
    if unscored:
        warnings.append(
            f"{unscored} detections had no score: used 1.0, so AP depends on detection order"
        )
    if not dets:
        return dict.fromkeys(COCO_STATS, 0.0), [*warnings, "no detections"]
    gt = COCO()
    gt.dataset = {
        "info": {"description": "grounding"},
        "licenses": [],
        "images": list(gt_images),
        "annotations": annotations,
        "categories": list(categories),
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(dets)
        evaluator = COCOeval(gt, dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(v) for name, v in zip(COCO_STATS, evaluator.stats, strict=True)}, warnings


def precision_recall_f1(
    predictions: Sequence[tuple[Any, Sequence[str]]],
    ground_truth: Sequence[tuple[Any, Sequence[str]]],
    threshold: float = 0.5,
) -> dict[str, float]:
    """Per image, boxes are matched to ground truth of the same class, greedily by IoU.

    Each item is ``(boxes N×4, labels)``; a match needs IoU >= ``threshold``.
    """
    tp = fp = fn = 0
    for (pred_boxes, pred_labels), (gt_boxes, gt_labels) in zip(
        predictions, ground_truth, strict=True
    ):
        pred = np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4)
        gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
        by_class: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for i, label in enumerate(pred_labels):
            by_class[label][0].append(i)
        for j, label in enumerate(gt_labels):
            by_class[label][1].append(j)
        for p_idx, g_idx in by_class.values():
            matched = 0
            if p_idx and g_idx:
                m = iou_matrix(pred[p_idx], gt[g_idx])
                while m.size and m.max() >= threshold:
                    row, col = np.unravel_index(int(m.argmax()), m.shape)
                    matched += 1
                    m[row, :] = -1
                    m[:, col] = -1
            tp += matched
            fp += len(p_idx) - matched
            fn += len(g_idx) - matched
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
