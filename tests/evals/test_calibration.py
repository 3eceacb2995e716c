"""Calibration: matching scored detections, reliability bins, ECE, and scores in COCO AP."""

from __future__ import annotations

import json
import math

import pytest

from grounding.datasets.synthetic import write_synthetic
from grounding.evals.calibration import (
    expected_calibration_error,
    match_detections,
    reliability,
    reliability_svg,
)
from grounding.evals.score import score_predictions

A = [0, 0, 10, 10]
B = [50, 50, 60, 60]

MATCH_CASES = [
    # boxes, labels, scores, truth boxes, truth labels, expected flags
    ([A], ["a"], [0.9], [A], ["a"], [True]),  # a hit
    ([A], ["b"], [0.9], [A], ["a"], [False]),  # wrong class
    ([A, A], ["a", "a"], [0.2, 0.9], [A], ["a"], [False, True]),  # a duplicate: the more confident one matches
    ([A, B], ["a", "a"], [0.5, 0.5], [A, B], ["a", "a"], [True, True]),  # two hits
    ([A], ["a"], [float("nan")], [], [], [False]),  # nothing to match
]


@pytest.mark.parametrize(("boxes", "labels", "scores", "gt", "gt_labels", "expected"), MATCH_CASES)
def test_match_detections(boxes, labels, scores, gt, gt_labels, expected) -> None:
    assert match_detections(boxes, labels, scores, gt, gt_labels).tolist() == expected


def test_reliability_and_ece() -> None:
    scores = [0.95, 0.95, 0.15, 0.15, float("nan")]
    correct = [True, True, False, True, True]
    bins = reliability(scores, correct, bins=10)
    assert [(b.low, b.count, b.precision) for b in bins] == [(0.1, 2, 0.5), (0.9, 2, 1.0)]
    # bin 0.1: |0.5 - 0.15| = 0.35; bin 0.9: |1.0 - 0.95| = 0.05; weighted equally
    assert expected_calibration_error(scores, correct) == pytest.approx(0.2)
    assert math.isnan(expected_calibration_error([], []))
    assert reliability_svg(bins).startswith("<svg") and "precision 0.50" in reliability_svg(bins)


def test_scored_predictions_rank_coco_ap_and_report_calibration(tmp_path) -> None:
    """A wrong box listed first: with scores it ranks last, AP rises, and ECE is reported."""
    root = write_synthetic(tmp_path / "synth", n=6, seed=2)
    coco = json.loads((root / "instances.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    rows_plain, rows_scored = [], []
    for image in coco["images"]:
        anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        boxes = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns]
        labels = [names[a["category_id"]] for a in anns]
        wrong = [1, 1, 30, 30]
        plain = {"id": str(image["id"]), "boxes": [wrong, *boxes], "labels": [labels[0], *labels]}
        rows_plain.append(plain)
        rows_scored.append({**plain, "scores": [0.1] + [0.9] * len(boxes)})
    results = {}
    for name, rows in (("plain", rows_plain), ("scored", rows_scored)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        scored = score_predictions(path, dataset="coco", root=root, splits=["val"])
        results[name] = scored["splits"]["val"]
    assert results["scored"]["AP"] > results["plain"]["AP"]
    assert "ECE" not in results["plain"]
    assert results["scored"]["ECE"] == pytest.approx(0.1)  # 0.1 scored wrong boxes, 0.9 scored right ones
    assert any(b["count"] for b in results["scored"]["reliability"])
