from __future__ import annotations

import json

import numpy as np
import pytest

from grounding import Grounding


def sample() -> Grounding:
    return Grounding(
        boxes=[[10, 20, 30, 40], [50, 60, 70, 80]],
        labels=["cat", None],
        points=[[5, 6]],
        point_labels=["p"],
        polygons=[np.array([[0, 0], [10, 0], [5, 8]])],
        polygon_labels=["tri"],
        warnings=["note"],
    )


def test_to_dict_has_exactly_the_documented_shape() -> None:
    assert sample().to_dict() == {
        "boxes": [
            {"xyxy": [10.0, 20.0, 30.0, 40.0], "label": "cat"},
            {"xyxy": [50.0, 60.0, 70.0, 80.0], "label": None},
        ],
        "points": [{"xy": [5.0, 6.0], "label": "p"}],
        "polygons": [{"points": [[0.0, 0.0], [10.0, 0.0], [5.0, 8.0]], "label": "tri"}],
        "warnings": ["note"],
    }


def test_round_trip_through_json() -> None:
    g = sample()
    assert Grounding.from_dict(json.loads(json.dumps(g.to_dict()))) == g


def test_empty_defaults_have_the_right_shapes() -> None:
    g = Grounding()
    assert g.boxes.shape == (0, 4) and g.points.shape == (0, 2) and g.is_empty and len(g) == 0
    assert Grounding.from_dict({}) == g


def test_labels_default_to_none_and_mismatch_is_an_error() -> None:
    assert Grounding(boxes=[[1, 2, 3, 4]]).labels == [None]
    with pytest.raises(ValueError, match="labels"):
        Grounding(boxes=[[1, 2, 3, 4]], labels=["a", "b"])


def test_to_detections_includes_polygon_bounds() -> None:
    det = sample().to_detections()
    np.testing.assert_allclose(det.xyxy, [[10, 20, 30, 40], [50, 60, 70, 80], [0, 0, 10, 8]])
    assert det.data["class_name"].tolist() == ["cat", "", "tri"]
    assert det.data["polygon"].tolist() == [False, False, True]
    assert det.class_id.tolist() == [0, 1, 2]


def test_to_detections_of_nothing() -> None:
    det = Grounding().to_detections()
    assert len(det) == 0 and det.xyxy.shape == (0, 4)
