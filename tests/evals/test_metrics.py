from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from grounding.evals import centre_in_box, iou, iou_matrix, point_in_box, polygon_iou


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),  # identical
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),  # half overlap
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),  # disjoint
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),  # touching edges: no area
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),  # contained
        ([5, 5, 5, 5], [5, 5, 5, 5], 0.0),  # both degenerate: union 0 -> 0
        ([0, 0, 10, 0], [0, 0, 10, 10], 0.0),  # zero-height prediction
        ([10, 10, 0, 0], [0, 0, 10, 10], 0.0),  # inverted prediction: area clamped at 0
        ([0.5, 0.5, 1.5, 1.5], [1, 1, 2, 2], 0.25 / 1.75),  # continuous coordinates, no +1
    ],
)
def test_iou_by_hand(a: list, b: list, expected: float) -> None:
    assert iou([a], [b])[0] == pytest.approx(expected, abs=1e-12)


def test_iou_equals_pycocotools_box_iou() -> None:
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 500, (2000, 2))
    wh = rng.uniform(0.5, 200, (2000, 2))
    a = np.hstack([xy, xy + wh])
    b = a[rng.permutation(2000)] + rng.normal(0, 30, (2000, 4))
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 0.5)
    to_xywh = lambda x: np.hstack([x[:, :2], x[:, 2:] - x[:, :2]])  # noqa: E731
    reference = np.array([mask_utils.iou([to_xywh(a)[i]], [to_xywh(b)[i]], [0])[0, 0] for i in range(2000)])
    np.testing.assert_allclose(iou(a, b), reference, rtol=0, atol=1e-12)
    np.testing.assert_allclose(iou_matrix(a[:50], b[:40]), mask_utils.iou(to_xywh(a[:50]), to_xywh(b[:40]), [0] * 40), atol=1e-12)


@pytest.mark.parametrize(
    ("point", "box", "inside"),
    [
        ([5, 5], [0, 0, 10, 10], True),
        ([10, 10], [0, 0, 10, 10], True),  # edges count
        ([10.01, 5], [0, 0, 10, 10], False),
        ([np.nan, 5], [0, 0, 10, 10], False),  # no answer
    ],
)
def test_point_in_box(point: list, box: list, inside: bool) -> None:
    assert bool(point_in_box([point], [box])[0]) is inside


def test_centre_in_box() -> None:
    assert centre_in_box([[0, 0, 10, 10], [20, 20, 40, 40]], [[4, 4, 6, 6], [0, 0, 10, 10]]).tolist() == [True, False]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([[0, 0], [10, 0], [10, 10], [0, 10]], [0, 0, 10, 10], 1.0),  # polygon vs its box
        ([[0, 0], [10, 0], [0, 10]], [0, 0, 10, 10], 0.5),  # triangle: half the square
        ([[0, 0], [10, 10], [10, 0], [0, 10]], [0, 0, 10, 10], 0.5),  # self-intersecting bow-tie, repaired
        ([[0, 0], [1, 0], [2, 0]], [0, 0, 10, 10], 0.0),  # degenerate
    ],
)
def test_polygon_iou(a: list, b: list, expected: float) -> None:
    assert polygon_iou(a, b) == pytest.approx(expected)


def test_chunked_iou_equals_row_by_row_past_one_chunk() -> None:
    rng = np.random.default_rng(11)
    xy = rng.uniform(0, 100, (40_000, 2))
    a = np.hstack([xy, xy + rng.uniform(0, 50, (40_000, 2))])
    b = a + rng.normal(0, 10, a.shape)
    whole = iou(a, b)
    pieces = np.concatenate([iou(a[i : i + 1000], b[i : i + 1000]) for i in range(0, 40_000, 1000)])
    assert np.array_equal(whole, pieces)
