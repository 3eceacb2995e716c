"""Score a predictions file against a dataset, offline.

Each line is ``{"id": …, "response": "raw model text"}`` (re-parsed with the model's profile,
so a parser change needs no new requests) or ``{"id": …, "boxes": [[x1, y1, x2, y2], …]}`` in
pixels (detection: also ``"labels"``, optional ``"scores"``; GUI: ``"points"``). Lines with an
``"error"`` and samples without a line count as failures.

Answers that locate nothing are told apart: ``n_refused`` counts answers that gave no
coordinates at all ("I cannot find it", ``[]``), ``n_parse_fail`` answers that started to
give coordinates the parser could not read (a cut-off list, three numbers), ``n_error``
samples whose line is an error, ``n_missing`` samples with no line. All of them count as
wrong and stay in N.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from grounding.datasets import TASKS, Sample, load_samples
from grounding.datasets.base import DatasetError, bulk
from grounding.evals.calibration import expected_calibration_error, match_detections, reliability
from grounding.evals.detection import coco_map, precision_recall_f1
from grounding.evals.referring import aggregate_splits, score_points, score_referring
from grounding.parsing import parse
from grounding.result import Grounding

__all__ = ["read_predictions", "score_predictions", "score_samples", "score_splits"]

_SUFFIX = re.compile(r"[\s_-]*\d+$")
# an answer that set out to give coordinates: a number opening a group, or a shape key
_COORDINATES = re.compile(
    r"[\[{(<,]\s*[-+]?\.?\d|\"\w*(?:box|bbox|point|coordinate)\w*\"\s*:|<\|begin_of_box\|>|<loc_?\d",
    re.IGNORECASE,
)
_ANSWER_SHOWN = 300  # characters of each answer kept for the report's gallery


def answer_kind(row: dict[str, Any] | None, result: Grounding | None) -> str:
    """How a sample was answered: ``located``, ``refused`` (no coordinates given: "I cannot
    find it", ``[]``), ``unparseable`` (coordinates started, none read), ``error`` (an error
    line) or ``missing`` (no line).

    >>> answer_kind({"response": "I cannot find it in the image."}, Grounding())
    'refused'
    >>> answer_kind({"response": "[[12, 40, 3"}, Grounding())
    'unparseable'
    """
    if row is None:
        return "missing"
    if "error" in row or result is None:
        return "error"
    if not result.is_empty:
        return "located"
    text = row.get("response")
    if isinstance(text, str) and _COORDINATES.search(text):
        return "unparseable"
    return "refused"


def _answer_text(row: dict[str, Any] | None) -> str:
    if row is None:
        return "(no prediction)"
    if "error" in row:
        return f"(error) {row['error']}"
    if isinstance(row.get("response"), str):
        text = " ".join(row["response"].split())
        return text if len(text) <= _ANSWER_SHOWN else text[: _ANSWER_SHOWN - 1] + "…"
    return "(pixel coordinates given directly)"


def read_predictions(path: str | Path) -> tuple[dict[str, dict[str, Any]], int]:
    """Predictions by id (a later line wins) and the number of unreadable lines."""
    predictions: dict[str, dict[str, Any]] = {}
    bad = 0
    if not Path(path).is_file():
        raise DatasetError(f"{path}: no such file")
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                predictions[str(row["id"])] = row
            except (ValueError, KeyError, TypeError):
                bad += 1
    return predictions, bad


def _image_size(sample: Sample) -> tuple[int, int]:
    if sample.size is not None:
        return sample.size
    from PIL import Image

    source = sample.image if isinstance(sample.image, Path) else io.BytesIO(sample.image)
    with Image.open(source) as image:
        width, height = image.size
        return int(width), int(height)


def grounding_of(row: dict[str, Any] | None, sample: Sample, model: str) -> Grounding | None:
    """The prediction for one sample as a :class:`Grounding`, or None when there is none."""
    if row is None or "error" in row:
        return None
    if row.get("confidence") and isinstance(row.get("parsed"), dict):
        # scores come from several answers or from token logprobs: not re-derivable from text
        return Grounding.from_dict(row["parsed"])
    if isinstance(row.get("response"), str):
        return parse(row["response"], model=model, image_size=_image_size(sample))
    if "boxes" in row or "points" in row:
        boxes = np.asarray(row.get("boxes") or [], dtype=np.float64).reshape(-1, 4)
        labels = list(row.get("labels") or [None] * len(boxes))
        points = np.asarray(row.get("points") or [], dtype=np.float64).reshape(-1, 2)
        scores = np.asarray(row.get("scores") or [], dtype=np.float64)
        return Grounding(boxes=boxes, labels=labels, points=points, confidence=scores)
    return None


def _category(label: str | None, names: dict[str, int]) -> int | None:
    """A model label to a category id: case-insensitive, numbered suffixes (``cat-2``) ignored."""
    if not label:
        return None
    key = label.strip().lower()
    return names.get(key) or names.get(_SUFFIX.sub("", key))


def score_samples(
    samples: Iterable[Sample], predictions: dict[str, dict[str, Any]], *, task: str, model: str
) -> dict[str, Any]:
    """Metrics for one split; ``ious`` and per-sample details are kept for the report."""
    samples = list(samples)
    rows = [predictions.get(s.id) for s in samples]
    results = [grounding_of(row, s, model) for row, s in zip(rows, samples, strict=True)]
    kinds = [answer_kind(row, r) for row, r in zip(rows, results, strict=True)]
    if task == "gui":
        points: list[Any] = []
        for r in results:
            if r is None:
                points.append(None)
            elif len(r.points):
                points.append(r.points[0])
            elif len(r.boxes):
                points.append(r.boxes[0])
            else:
                points.append(None)
        metrics = score_points(points, [s.boxes[0] for s in samples])
    elif task == "detect":
        metrics = _score_detection(samples, results)
    else:
        first = [r.boxes[0] if r is not None and len(r.boxes) else None for r in results]
        truth = np.concatenate([s.boxes[:1] for s in samples]) if samples else np.empty((0, 4))
        metrics = score_referring(first, truth)
    metrics["n_parse_fail"] = kinds.count("unparseable")
    metrics["n_refused"] = kinds.count("refused")
    metrics["n_missing"] = kinds.count("missing")
    metrics["n_error"] = kinds.count("error")
    warnings = metrics.setdefault("warnings", [])
    if samples and all(row is None for row in rows):
        warnings.append(
            f"no prediction for any of the {len(samples)} samples: is it the right --split, "
            "or were the predictions made on another split or dataset?"
        )
    metrics["results"] = results
    metrics["answers"] = [_answer_text(row) for row in rows]
    return metrics


def _score_detection(samples: list[Sample], results: list[Grounding | None]) -> dict[str, Any]:
    categories = sorted({c for s in samples for c in (*s.categories, *s.labels) if c})
    ids = {name.lower(): i for i, name in enumerate(categories, 1)}
    images, annotations, detections = [], [], []
    unmatched = 0
    scored: list[float] = []
    correct: list[bool] = []
    for index, (sample, result) in enumerate(zip(samples, results, strict=True), 1):
        w, h = _image_size(sample)
        images.append({"id": index, "width": w, "height": h, "file_name": str(sample.image)})
        for box, label in zip(sample.boxes, sample.labels, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append(
                {
                    "image_id": index,
                    "category_id": ids[label.lower()],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                }
            )
        if result is None:
            continue
        for box, predicted, score in zip(
            result.boxes, result.labels, result.confidence, strict=True
        ):
            category = _category(predicted, ids)
            if category is None:
                unmatched += 1
                continue
            x1, y1, x2, y2 = (float(v) for v in box)
            detection = {
                "image_id": index,
                "category_id": category,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
            }
            if np.isfinite(score):
                detection["score"] = float(score)
            detections.append(detection)
        if np.isfinite(result.confidence).any():
            mapped = [_category(lab, ids) for lab in result.labels]
            truth = [ids[lab.lower()] for lab in sample.labels]
            flags = match_detections(result.boxes, mapped, result.confidence, sample.boxes, truth)
            scored += result.confidence.tolist()
            correct += flags.tolist()
    stats, warnings = coco_map(
        images,
        annotations,
        [{"id": i, "name": n, "supercategory": ""} for n, i in ids.items()],
        detections,
    )
    if unmatched:
        warnings.append(f"{unmatched} predicted boxes had a label outside the categories")
    pred = [
        (
            (r.boxes if r else np.empty((0, 4))),
            [(lab or "").lower() for lab in (r.labels if r else [])],
        )
        for r in results
    ]
    pred = [(b, [_SUFFIX.sub("", lab) for lab in labs]) for b, labs in pred]
    prf = precision_recall_f1(pred, [(s.boxes, [lab.lower() for lab in s.labels]) for s in samples])
    n = len(samples)
    calibration: dict[str, Any] = {}
    if scored:
        calibration = {
            "ECE": expected_calibration_error(scored, correct),
            "reliability": [asdict(b) for b in reliability(scored, correct)],
        }
    return {
        "n": n,
        "n_parse_fail": sum(1 for r in results if r is None),
        **stats,
        **{f"{k}@0.5": v for k, v in prf.items()},
        **calibration,
        "warnings": warnings,
    }


def score_splits(
    samples_by_split: dict[str, list[Sample]],
    predictions: dict[str, dict[str, Any]],
    *,
    dataset: str,
    model: str,
    unreadable: int = 0,
) -> dict[str, Any]:
    """Per-split metrics plus the averages across splits (when there are several)."""
    task = TASKS.get(dataset, "locate")
    with bulk():
        per_split = {
            split: score_samples(samples, predictions, task=task, model=model)
            for split, samples in samples_by_split.items()
        }
    key = {"gui": "point_acc", "detect": "AP"}.get(task, "acc@0.5")
    summary = aggregate_splits(per_split, key) if len(per_split) > 1 else None
    return {
        "dataset": dataset,
        "task": task,
        "model": model,
        "splits": per_split,
        "summary": summary,
        "unreadable_lines": unreadable,
    }


def score_predictions(
    path: str | Path,
    *,
    dataset: str,
    root: str | Path,
    splits: list[str],
    model: str = "glm-4.5v",
    images: str | Path | None = None,
) -> dict[str, Any]:
    """Score a predictions file on one or more whole splits."""
    with bulk():
        predictions, bad = read_predictions(path)
        samples = {s: list(load_samples(dataset, root, s, images=images)) for s in splits}
    return score_splits(samples, predictions, dataset=dataset, model=model, unreadable=bad)
