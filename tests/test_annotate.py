from __future__ import annotations

import numpy as np
import pytest

import grounding
from grounding import Grounding, annotate
from tests.conftest import photo


@pytest.mark.parametrize("size", [(160, 120), (640, 480), (4000, 3000)])
def test_draws_boxes_points_and_polygons_at_any_size(size: tuple) -> None:
    w, h = size
    result = Grounding(
        boxes=[[w * 0.1, h * 0.1, w * 0.4, h * 0.4]], labels=["scratch"],
        points=[[w * 0.7, h * 0.7]], point_labels=["OK"],
        polygons=[np.array([[w * 0.5, h * 0.1], [w * 0.9, h * 0.1], [w * 0.7, h * 0.4]])], polygon_labels=["plate"],
    )  # fmt: skip
    before = photo(w, h)
    drawn = annotate(before, result)
    assert drawn.size == size
    changed = np.any(np.asarray(drawn) != np.asarray(before), axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.mean() > 0.001
    assert xs.min() <= w * 0.1 + 2 and ys.max() >= h * 0.7  # box edge and the point are drawn


def test_nothing_to_draw_leaves_the_image_unchanged() -> None:
    before = photo(64, 48)
    assert np.array_equal(np.asarray(annotate(before, Grounding())), np.asarray(before))


def test_from_a_parsed_answer() -> None:
    g = grounding.parse("<|begin_of_box|>[[100,100,500,500]]<|end_of_box|>", image_size=(640, 480))
    assert annotate(photo(), g).size == (640, 480)
