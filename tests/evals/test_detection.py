"""COCO detection: our whole path (dataset -> predictions -> pycocotools) equals a direct COCOeval."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from grounding.datasets import load_samples
from grounding.evals import COCO_STATS, precision_recall_f1
from grounding.evals.score import score_samples


@pytest.fixture
def coco_data(tmp_path):
    rng = np.random.default_rng(3)
    names = ["cat", "dog", "car"]
    images, annotations, results, predictions = [], [], [], {}
    ann_id = 0
    for image_id in range(1, 41):
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "width": 640, "height": 480})
        boxes, labels = [], []
        for _ in range(rng.integers(1, 6)):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            w, h = rng.uniform(5, 140), rng.uniform(5, 130)  # small, medium and large objects
            category = int(rng.integers(1, 4))
            ann_id += 1
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": category,
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
            if rng.random() < 0.8:  # a prediction near most objects, some with the wrong class
                jitter = rng.normal(0, 6, 4)
                guess = category if rng.random() < 0.85 else int(rng.integers(1, 4))
                px, py, pw, ph = x + jitter[0], y + jitter[1], max(1, w + jitter[2]), max(1, h + jitter[3])
                boxes.append([px, py, px + pw, py + ph])
                labels.append(f"{names[guess - 1]}-{len(boxes)}")  # GLM-style numbered labels
                results.append({"image_id": image_id, "category_id": guess, "bbox": [px, py, pw, ph], "score": 1.0})
        if rng.random() < 0.3:  # a hallucination
            boxes.append([10, 10, 60, 60])
            labels.append("dog")
            results.append({"image_id": image_id, "category_id": 2, "bbox": [10, 10, 50, 50], "score": 1.0})
        predictions[str(image_id)] = {"id": image_id, "boxes": boxes, "labels": labels}
    instances = {"info": {}, "licenses": [], "images": images, "annotations": annotations,
                 "categories": [{"id": i + 1, "name": n, "supercategory": ""} for i, n in enumerate(names)]}
    (tmp_path / "instances.json").write_text(json.dumps(instances))
    return tmp_path, predictions, results


def test_twelve_stats_equal_a_direct_cocoeval(coco_data) -> None:
    root, predictions, results = coco_data
    samples = list(load_samples("coco", root, "val"))
    ours = score_samples(samples, predictions, task="detect", model="glm-4.5v")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(root / "instances.json"))
        evaluator = COCOeval(gt, gt.loadRes(results), iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    for name, value in zip(COCO_STATS, evaluator.stats, strict=True):
        assert ours[name] == pytest.approx(value, abs=1e-9), name
    assert ours["AP50"] > 0.3  # the data is not trivial
    assert any("no score" in w for w in ours["warnings"])


def test_precision_recall_f1_by_hand() -> None:
    gt = [([[0, 0, 10, 10], [20, 20, 30, 30]], ["cat", "dog"])]
    pred = [([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], ["cat", "cat", "dog"])]
    s = precision_recall_f1(pred, gt)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 2, 1)
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == pytest.approx(1 / 2)
    assert s["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
