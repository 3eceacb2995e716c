"""Merging across tiles: boxes (NMS, greedy NMM; IoU or IoS), points, polygons, by class."""

from __future__ import annotations

import numpy as np
import pytest

from grounding import Grounding
from grounding.tiling import (
    MergeOptions,
    combine,
    merge_labelled_boxes,
    merge_points,
    merge_polygons,
    plan_tiles,
)
from tests.conftest import assert_close

NMM_IOS = MergeOptions("greedy_nmm", "ios", 0.5)


@pytest.mark.parametrize(
    ("boxes", "labels", "options", "expected"),
    [
        # a scratch cut by a tile border: two pieces sharing the overlap strip join into one
        ([[100, 10, 300, 30], [250, 10, 420, 30]], ["s", "s"], MergeOptions("greedy_nmm", "ios", 0.2), [[100, 10, 420, 30]]),
        # the same pieces with NMS: only the larger piece is kept
        ([[100, 10, 300, 30], [250, 10, 420, 30]], ["s", "s"], MergeOptions("nms", "ios", 0.2), [[100, 10, 300, 30]]),
        # the whole-image view of a large object absorbs the pieces the tiles saw
        ([[0, 0, 500, 400], [0, 0, 260, 400], [240, 0, 500, 400], [0, 380, 500, 400]], ["s"] * 4, NMM_IOS, [[0, 0, 500, 400]]),
        # a small object inside a large one matches by IoS (1.0) ...
        ([[0, 0, 100, 100], [10, 10, 30, 30]], ["s", "s"], NMM_IOS, [[0, 0, 100, 100]]),
        # ... but not by IoU (0.04): both stay
        ([[0, 0, 100, 100], [10, 10, 30, 30]], ["s", "s"], MergeOptions("greedy_nmm", "iou", 0.5), [[0, 0, 100, 100], [10, 10, 30, 30]]),
        # one object seen by two overlapping tiles: near-identical boxes become one
        ([[500, 500, 520, 521], [501, 500, 521, 520]], ["s", "s"], MergeOptions("greedy_nmm", "iou", 0.5), [[500, 500, 521, 521]]),
        # exactly at the threshold is a match (SAHI 0.12.8: metric >= threshold)
        ([[0, 0, 100, 10], [50, 0, 150, 10]], ["s", "s"], MergeOptions("greedy_nmm", "ios", 0.5), [[0, 0, 150, 10]]),
        # just under it is not
        ([[0, 0, 100, 10], [51, 0, 151, 10]], ["s", "s"], MergeOptions("greedy_nmm", "ios", 0.5), [[0, 0, 100, 10], [51, 0, 151, 10]]),
        # classes never merge with each other
        ([[0, 0, 100, 100], [0, 0, 100, 100]], ["scratch", "dent"], NMM_IOS, [[0, 0, 100, 100], [0, 0, 100, 100]]),
        # unlabelled boxes (locate) are a class of their own
        ([[0, 0, 100, 100], [5, 5, 100, 100]], [None, None], NMM_IOS, [[0, 0, 100, 100]]),
        # greedy, not transitive: A-B match, B-C match, A-C do not -> the keeper takes B only
        ([[0, 0, 100, 10], [60, 0, 140, 10], [120, 0, 190, 10]], ["s"] * 3, MergeOptions("greedy_nmm", "iou", 0.2), [[0, 0, 140, 10], [120, 0, 190, 10]]),
        # nothing in, nothing out
        ([], [], NMM_IOS, []),
    ],
)
def test_boxes(boxes, labels, options, expected) -> None:
    merged, merged_labels = merge_labelled_boxes(np.asarray(boxes, float).reshape(-1, 4), labels, options)
    got = sorted(map(tuple, merged.tolist()))
    assert got == sorted(map(tuple, np.asarray(expected, float).reshape(-1, 4).tolist()))
    assert len(merged_labels) == len(merged)


@pytest.mark.parametrize(
    ("points", "labels", "distance", "expected"),
    [
        ([[100, 100], [104, 103], [300, 300]], ["a", "a", "a"], 10, [[100, 100], [300, 300]]),  # 5 px apart: one
        ([[100, 100], [104, 103]], ["a", "b"], 10, [[100, 100], [104, 103]]),  # other class: both
        ([[100, 100], [110, 100]], ["a", "a"], 10, [[100, 100], [110, 100]]),  # exactly at the distance: two
        ([[0, 0], [6, 0], [12, 0]], [None] * 3, 10, [[0, 0], [12, 0]]),  # the first kept decides
    ],
)
def test_points(points, labels, distance, expected) -> None:
    merged, merged_labels = merge_points(np.asarray(points, float), labels, distance)
    assert merged.tolist() == expected and len(merged_labels) == len(expected)


def test_polygons_that_overlap_become_their_union_others_stay() -> None:
    left = np.array([[0, 0], [60, 0], [60, 50], [0, 50]], float)
    right = np.array([[40, 0], [100, 0], [100, 50], [40, 50]], float)
    far = np.array([[500, 500], [520, 500], [510, 520]], float)
    other_class = right.copy()
    merged, labels = merge_polygons([left, right, far, other_class], ["a", "a", "a", "b"], MergeOptions("greedy_nmm", "ios", 0.3))
    import shapely

    areas = sorted(round(shapely.Polygon(p).area) for p in merged)
    assert areas == sorted([100 * 50, 200, 60 * 50])  # the union, the far triangle, class b
    assert sorted(labels, key=str) == ["a", "a", "b"]


def test_degenerate_polygons_are_kept_as_given() -> None:
    line = np.array([[0, 0], [10, 10]], float)
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    merged, labels = merge_polygons([line, square, square + 1], ["a", "a", "a"], NMM_IOS)
    assert len(merged) == 2 and any(np.array_equal(p, line) for p in merged) and labels == ["a", "a"]


def test_combine_maps_tile_answers_to_original_pixels_and_names_the_tile_in_warnings() -> None:
    plan = plan_tiles((2000, 1000), "1x2", overlap=0.2, full=True)  # tiles at x=0 and x=888
    assert [w.x for w in plan.windows] == [0, 888, 0]
    tile_a = Grounding(boxes=[[10, 20, 30, 40]], labels=["s"], points=[[5, 5]], warnings=["repaired"])
    tile_b = Grounding(boxes=[[10, 20, 30, 40]], labels=["s"], polygons=[[[0, 0], [10, 0], [10, 10]]])
    whole = Grounding()
    result = combine(plan, [tile_a, tile_b, whole])
    assert_close(result.boxes, [[10, 20, 30, 40], [898, 20, 918, 40]], 4)
    assert_close(result.points, [[5, 5]], 2)
    assert_close(result.polygons[0], [[888, 0], [898, 0], [898, 10]], 2)
    assert result.image_size == (2000, 1000)
    assert result.warnings == ["tile 0,0 1112x1000: repaired"]
