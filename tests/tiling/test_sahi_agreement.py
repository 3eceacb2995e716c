"""The merge agrees with SAHI's own postprocess (``sahi.postprocess.combine``) on the same
tile predictions. Needs the ``tiling`` extra (sahi pulls opencv, ~80 MB):

    pip install -e '.[dev,tiling]' && python -m pytest -m sahi

Scores: VLM answers have none, so both sides get the box area as the score (as the merge does).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from grounding.tiling import MergeOptions, cut, greedy_nmm, merge_labelled_boxes, nms, plan_tiles
from tests.vision_server import draw_scene, random_scene, see

pytestmark = pytest.mark.sahi
sahi_combine = pytest.importorskip("sahi.postprocess.combine")
sahi_prediction = pytest.importorskip("sahi.prediction")

SETTINGS = [
    MergeOptions("greedy_nmm", "ios", 0.5),  # SAHI's default for sliced prediction
    MergeOptions("greedy_nmm", "ios", 0.1),
    MergeOptions("greedy_nmm", "iou", 0.5),
    MergeOptions("greedy_nmm", "iou", 0.2),
    MergeOptions("nms", "ios", 0.5),
    MergeOptions("nms", "iou", 0.5),
    MergeOptions("nms", "iou", 0.1),
]


def sahi_merge(boxes: np.ndarray, labels: list[str], options: MergeOptions) -> list[tuple]:
    classes = sorted(set(labels))
    predictions = [
        sahi_prediction.ObjectPrediction(
            bbox=box.tolist(), category_id=classes.index(label), category_name=label,
            score=float((box[2] - box[0]) * (box[3] - box[1])),
        )
        for box, label in zip(boxes, labels, strict=True)
    ]  # fmt: skip
    kind = sahi_combine.GreedyNMMPostprocess if options.method == "greedy_nmm" else sahi_combine.NMSPostprocess
    post = kind(match_threshold=options.threshold, match_metric=options.metric.upper(), class_agnostic=False)
    return sorted((p.category.name, *map(float, p.bbox.to_xyxy())) for p in post(predictions))


def ours(boxes: np.ndarray, labels: list[str], options: MergeOptions) -> list[tuple]:
    merged, names = merge_labelled_boxes(boxes, labels, options)
    return sorted((name, *map(float, box)) for box, name in zip(merged, names, strict=True))


@pytest.fixture(scope="module")
def fixture_tile_predictions() -> tuple[np.ndarray, list[str]]:
    """What the resolution-limited fixture "model" answers for each window of a 3x3 plan of
    a synthetic 6000x4500 scene, in pixels of the original (before any merge)."""
    scene = random_scene(7, (6000, 4500), count=40, sides=(20, 1400), labels=("scratch", "dent"), gap=60)
    image = draw_scene(scene)
    plan = plan_tiles(image.size, "3x3", overlap=0.25, full=True)
    boxes, labels = [], []
    for window, crop in zip(plan.windows, cut(image, plan), strict=True):
        for label, (x1, y1, x2, y2) in see(crop, ["scratch", "dent"], input_side=1024):
            w, h = window.width / 1000, window.height / 1000
            boxes.append([window.x + x1 * w, window.y + y1 * h, window.x + x2 * w, window.y + y2 * h])
            labels.append(label)
    return np.asarray(boxes), labels


@pytest.mark.parametrize("options", SETTINGS, ids=str)
def test_same_boxes_as_sahi_on_the_fixture_models_tile_answers(fixture_tile_predictions, options) -> None:
    boxes, labels = fixture_tile_predictions
    assert len(boxes) > 40  # objects seen by several tiles and pieces cut by borders
    assert ours(boxes, labels, options) == sahi_merge(boxes, labels, options)


def jittered_tiles(seed: int) -> tuple[np.ndarray, list[str]]:
    """Random objects seen by a 2x3 plan: clipped to each tile, integer pixels, a few pixels
    of noise (so equal areas, exact threshold ties and near misses all occur)."""
    rng = random.Random(seed)
    plan = plan_tiles((3000, 2000), "2x3", overlap=0.3, full=True)
    boxes, labels = [], []
    for _ in range(rng.randint(5, 40)):
        w, h = rng.choice([8, 20, 50, 300, 900]), rng.choice([8, 20, 50, 300, 700])
        x, y = rng.randrange(0, 3000 - w), rng.randrange(0, 2000 - h)
        label = rng.choice(["a", "b"])
        for win in plan.windows:
            x1, y1 = max(x, win.x), max(y, win.y)
            x2, y2 = min(x + w, win.x + win.width), min(y + h, win.y + win.height)
            if x2 - x1 < 3 or y2 - y1 < 3:
                continue
            noise = 8 if win.full else 2
            box = [v + rng.randint(-noise, noise) for v in (x1, y1, x2, y2)]
            box = [max(0, box[0]), max(0, box[1]), max(box[0] + 1, box[2]), max(box[1] + 1, box[3])]
            boxes.append(box)
            labels.append(label)
    return np.asarray(boxes, dtype=float).reshape(-1, 4), labels


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("options", SETTINGS, ids=str)
def test_same_boxes_as_sahi_on_random_tile_answers(seed, options) -> None:
    boxes, labels = jittered_tiles(seed)
    assert ours(boxes, labels, options) == sahi_merge(boxes, labels, options)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("metric", ["iou", "ios"])
def test_same_indices_as_sahis_kernels(seed, metric) -> None:
    boxes, _ = jittered_tiles(seed)
    scores = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    table = np.column_stack([boxes, scores, np.zeros(len(boxes))])
    assert nms(boxes, scores, metric=metric, threshold=0.5) == sahi_combine.nms(table, metric.upper(), 0.5)
    assert greedy_nmm(boxes, scores, metric=metric, threshold=0.5) == sahi_combine.greedy_nmm(table, metric.upper(), 0.5)
