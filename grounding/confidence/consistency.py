"""Self-consistency: K answers to one question, fused into one result with a score per shape.

Boxes are clustered across the K answers by class and IoU, in the manner of weighted box
fusion (Solovyev et al., 2021): every box, most confident first, joins the cluster of its class
whose fused box it overlaps most (IoU at or above ``iou``), unless that cluster already holds
a box of the same answer; otherwise it starts a cluster. A cluster's box is the mean of its
members weighted by their own scores (1 where unknown), and its score is its support:
the summed member weights over K, so a box that every answer gives scores 1 and one that a
single answer in five gives scores 0.2. Points cluster by distance, polygons by polygon IoU
(the fused polygon is the member closest to the others).

>>> from grounding.result import Grounding
>>> a = Grounding(boxes=[[10, 10, 50, 50], [100, 100, 120, 120]], labels=["cat", "cat"])
>>> b = Grounding(boxes=[[12, 10, 52, 50]], labels=["cat"])
>>> fused = fuse_samples([a, b])
>>> fused.boxes.tolist(), fused.confidence.tolist()
([[11.0, 10.0, 51.0, 50.0], [100.0, 100.0, 120.0, 120.0]], [1.0, 0.5])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from grounding.result import FloatArray, Grounding

__all__ = ["fuse_samples"]


@dataclass
class _Cluster:
    label: str | None
    members: list[tuple[int, FloatArray, float]] = field(default_factory=list)

    @property
    def samples(self) -> set[int]:
        return {sample for sample, _, _ in self.members}

    @property
    def weight(self) -> float:
        return sum(w for _, _, w in self.members)

    def mean(self) -> FloatArray:
        weights = np.array([w for _, _, w in self.members])
        shapes = np.stack([s for _, s, _ in self.members])
        return np.asarray(np.average(shapes, axis=0, weights=weights), dtype=np.float64)


Item = tuple[int, FloatArray, str | None, float]
Similarity = Callable[[FloatArray, FloatArray], float]


def _cluster(
    items: list[Item],
    similar: Similarity,
    threshold: float,
    centre: Callable[[_Cluster], FloatArray],
) -> list[_Cluster]:
    clusters: list[_Cluster] = []
    # most confident first; ties keep the answers' own order (sample, then position)
    for sample, shape, label, weight in sorted(items, key=lambda item: -item[3]):
        best, best_score = None, threshold
        for cluster in clusters:
            if cluster.label != label or sample in cluster.samples:
                continue
            score = similar(centre(cluster), shape)
            if score >= best_score:
                best, best_score = cluster, score
        if best is None:
            best = _Cluster(label)
            clusters.append(best)
        best.members.append((sample, shape, weight))
    return clusters


def _weight(score: float) -> float:
    return float(score) if np.isfinite(score) else 1.0


def _box_iou(a: FloatArray, b: FloatArray) -> float:
    from grounding.evals.metrics import iou_matrix  # grounding.evals imports the client

    return float(iou_matrix(a[None], b[None])[0, 0])


def _polygon_iou(a: FloatArray, b: FloatArray) -> float:
    from grounding.evals.metrics import polygon_iou

    return polygon_iou(a, b)


def _medoid(cluster: _Cluster) -> FloatArray:
    shapes = [s for _, s, _ in cluster.members]
    if len(shapes) <= 2:
        return shapes[0]
    totals = [sum(_polygon_iou(a, b) for b in shapes) for a in shapes]
    return shapes[int(np.argmax(totals))]


def _items(samples: Sequence[Grounding], shapes: str, labels: str, scores: str) -> list[Item]:
    """(answer index, shape, label, weight) of one kind of shape across the answers."""
    return [
        (i, shape, label, _weight(score))
        for i, s in enumerate(samples)
        for shape, label, score in zip(
            getattr(s, shapes), getattr(s, labels), getattr(s, scores), strict=True
        )
    ]


def fuse_samples(
    samples: Sequence[Grounding], *, iou: float = 0.5, point_distance: float = 0.02
) -> Grounding:
    """Fuse K answers to one question into one result whose scores are their agreement.

    ``iou`` is the overlap a box (or polygon) needs with a cluster to join it;
    ``point_distance`` the distance a point may be from a cluster's point, as a fraction of
    the image diagonal. Shapes come out most supported first.
    """
    if not samples:
        raise ValueError("fuse_samples needs at least one answer")
    k = len(samples)
    size = next((s.image_size for s in samples if s.image_size), None)
    diagonal = float(np.hypot(*size)) if size else float(np.hypot(1000, 1000))
    radius = point_distance * diagonal

    boxes = _cluster(_items(samples, "boxes", "labels", "confidence"), _box_iou, iou, _Cluster.mean)
    points = _cluster(
        _items(samples, "points", "point_labels", "point_confidence"),
        lambda a, b: -float(np.hypot(*(a - b))),
        -radius,
        _Cluster.mean,
    )
    polygons = _cluster(
        _items(samples, "polygons", "polygon_labels", "polygon_confidence"),
        _polygon_iou,
        iou,
        _medoid,
    )
    for clusters in (boxes, points, polygons):
        clusters.sort(key=lambda c: -c.weight)
    warnings = list(dict.fromkeys(w for s in samples for w in s.warnings))
    return Grounding(
        boxes=np.array([c.mean() for c in boxes]).reshape(-1, 4),
        labels=[c.label for c in boxes],
        points=np.array([c.mean() for c in points]).reshape(-1, 2),
        point_labels=[c.label for c in points],
        polygons=[_medoid(c) for c in polygons],
        polygon_labels=[c.label for c in polygons],
        warnings=warnings,
        image_size=size,
        confidence=np.array([min(1.0, c.weight / k) for c in boxes]),
        point_confidence=np.array([min(1.0, c.weight / k) for c in points]),
        polygon_confidence=np.array([min(1.0, c.weight / k) for c in polygons]),
    )
