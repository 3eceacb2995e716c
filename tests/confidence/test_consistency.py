"""Self-consistency fusion: clusters by class and IoU, support as the score, WBF coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from grounding.confidence import fuse_samples
from grounding.result import Grounding


def g(*boxes: tuple[list[float], str], scores: list[float] | None = None) -> Grounding:
    return Grounding(
        boxes=[b for b, _ in boxes] or np.empty((0, 4)),
        labels=[lab for _, lab in boxes],
        confidence=scores or [],
        image_size=(1000, 1000),
    )


CAT = [100, 100, 200, 200]
CAT_MOVED = [110, 100, 210, 200]  # IoU 0.82 with CAT
FAR = [600, 600, 700, 700]

CASES = [
    # samples, expected boxes (most supported first), expected scores
    ([g((CAT, "cat"))] * 3, [CAT], [1.0]),  # all agree: score 1
    ([g((CAT, "cat")), g((CAT_MOVED, "cat"))], [[105, 100, 205, 200]], [1.0]),  # fused by mean
    ([g((CAT, "cat")), g((CAT, "cat")), g()], [CAT], [2 / 3]),  # one answer misses it
    ([g((CAT, "cat"), (FAR, "cat")), g((CAT, "cat")), g((CAT, "cat"))], [CAT, FAR], [1.0, 1 / 3]),  # an extra box in one answer
    ([g((CAT, "cat")), g((CAT, "dog"))], [CAT, CAT], [0.5, 0.5]),  # classes never merge
    ([g((CAT, "cat"), (CAT_MOVED, "cat")), g((CAT, "cat"))], [CAT, CAT_MOVED], [1.0, 0.5]),  # one answer's two boxes stay two
    ([g((CAT, "cat"), scores=[0.5]), g((CAT_MOVED, "cat"), scores=[1.0])], [[400 / 6 + 40, 100, 400 / 6 + 140, 200]], [0.75]),  # known scores weigh the mean and the support
]


@pytest.mark.parametrize(("samples", "boxes", "scores"), CASES)
def test_fusion(samples: list[Grounding], boxes: list[list[float]], scores: list[float]) -> None:
    fused = fuse_samples(samples)
    np.testing.assert_allclose(fused.boxes, np.array(boxes, dtype=float).reshape(-1, 4), atol=1e-6)
    np.testing.assert_allclose(fused.confidence, scores, atol=1e-6)


def test_points_cluster_by_distance_and_polygons_by_iou() -> None:
    square = [[0, 0], [100, 0], [100, 100], [0, 100]]
    moved = [[5, 0], [105, 0], [105, 100], [5, 100]]
    a = Grounding(points=[[500, 500]], polygons=[square], image_size=(1000, 1000))
    b = Grounding(points=[[510, 505]], polygons=[moved], image_size=(1000, 1000))
    c = Grounding(points=[[900, 100]], image_size=(1000, 1000))
    fused = fuse_samples([a, b, c])
    np.testing.assert_allclose(fused.points, [[505, 502.5], [900, 100]])
    np.testing.assert_allclose(fused.point_confidence, [2 / 3, 1 / 3])
    assert len(fused.polygons) == 1
    assert fused.polygon_confidence.tolist() == pytest.approx([2 / 3])


def test_needs_an_answer() -> None:
    with pytest.raises(ValueError, match="at least one"):
        fuse_samples([])


def test_confidence_round_trips_through_dict_and_detections() -> None:
    fused = fuse_samples([g((CAT, "cat"), (FAR, "dog")), g((CAT, "cat"))])
    again = Grounding.from_dict(fused.to_dict())
    assert again == fused
    assert fused.to_detections().confidence.tolist() == [1.0, 0.5]
    plain = Grounding(boxes=[CAT])
    assert "confidence" not in plain.to_dict()["boxes"][0]
    assert np.isnan(plain.confidence).all() and plain.to_detections().confidence is None
