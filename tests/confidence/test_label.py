"""Confidence in a labeling job: stored, exported where each format has a place, and the
review list puts the wrong boxes first. Against the loopback noisy fixture detector."""

from __future__ import annotations

import csv
import json
import shutil

from grounding.datasets.synthetic import write_synthetic
from grounding.evals.calibration import match_detections
from grounding.labeling import JobStore
from grounding.testing import ScriptedServer
from tests.labeling.conftest import grounding_cli
from tests.noisy_server import NoisyDetector

CLASSES = "circle,square,triangle"


def test_label_with_consistency_and_review(tmp_path) -> None:
    synth = write_synthetic(tmp_path / "synth", n=8, seed=6)
    photos = tmp_path / "photos"
    shutil.copytree(synth / "images", photos)
    truth = json.loads((synth / "instances.json").read_text())
    names = {c["id"]: c["name"] for c in truth["categories"]}
    out = tmp_path / "labels"
    args = ["label", str(photos), "--classes", CLASSES, "--out", str(out), "-f", "coco,yolo,cvat,labelstudio",
            "--confidence", "consistency", "--samples", "4", "--review-below", "0.5", "--yolo-scores", "--no-cache"]  # fmt: skip
    with ScriptedServer(NoisyDetector(seed=2)) as server:
        dry = grounding_cli(*args, "--dry-run", "--base-url", server.url)
        assert dry.returncode == 0 and "4 requests per image" in dry.stdout
        run = grounding_cli(*args, "--base-url", server.url)
        assert run.returncode == 0, run.stderr
        assert len(server.chat_requests) == 8 * 4
        again = grounding_cli(*args, "--base-url", server.url, "--confidence", "logprobs")
        assert again.returncode == 2 and "--confidence" in again.stderr  # another scoring: refused

    with JobStore(out / "job.sqlite") as store:
        rows = list(store.rows("done"))
    assert len(rows) == 8 and all("confidence" in b for r in rows for b in r.result["boxes"])

    # exports carry the scores
    predictions = json.loads((out / "coco" / "annotations" / "predictions_train.json").read_text())
    assert predictions and all(0 < p["score"] <= 1 for p in predictions)
    assert all(len(line.split()) == 6 for f in (out / "yolo" / "labels").rglob("*.txt") for line in f.read_text().splitlines())
    assert '<attribute name="score">' in (out / "cvat" / "annotations.xml").read_text()
    tasks = json.loads((out / "labelstudio" / "tasks.json").read_text())
    assert all("score" in r for t in tasks for r in t["predictions"][0]["result"])

    # the review list: least sure first, and its boxes under the threshold are mostly wrong
    with (out / "review" / "review.csv").open() as file:
        review = list(csv.DictReader(file))
    worst = [float(r["worst score"]) for r in review]
    assert review and worst == sorted(worst) and worst[0] < 0.5
    review_tasks = json.loads((out / "review" / "labelstudio" / "tasks.json").read_text())
    assert len(review_tasks) == len(review)
    by_name = {i["file_name"]: i["id"] for i in truth["images"]}
    low_right = low = 0
    for row in rows:
        image_id = by_name[row.key]
        anns = [a for a in truth["annotations"] if a["image_id"] == image_id]
        gt = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns]
        boxes = row.result["boxes"]
        scores = [b["confidence"] for b in boxes]
        ok = match_detections([b["xyxy"] for b in boxes], [b["label"] for b in boxes], scores,
                              gt, [names[a["category_id"]] for a in anns])
        for score, right in zip(scores, ok, strict=True):
            if score < 0.5:
                low += 1
                low_right += bool(right)
    assert low and low_right / low < 0.2  # the doubtful boxes are the wrong ones
