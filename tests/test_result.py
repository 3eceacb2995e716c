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


@pytest.mark.parametrize(
    ("labels", "classes", "ids", "names"),
    [
        # ids follow the list's order, not the order of appearance
        (["red square", "green square"], ["green square", "red square"], [1, 0], ["red square", "green square"]),
        # numbered suffixes and plurals map onto the class
        (["red square-1", "Red Squares"], ["green square", "red square"], [1, 1], ["red square", "red square"]),
        # a one-letter slip (two letters swapped) still matches
        (["dnet"], ["scratch", "dent"], [1], ["dent"]),
        # with one class, an unlabelled box takes it
        ([None], ["dent"], [0], ["dent"]),
        # a label matching none keeps its name and gets an id after the list's
        (["rust", "dent", "rust"], ["scratch", "dent"], [2, 1, 2], ["rust", "dent", "rust"]),
    ],
)
def test_to_detections_with_classes(labels, classes, ids, names) -> None:
    g = Grounding(boxes=[[0, 0, 10, 10 + i] for i in range(len(labels))], labels=labels)
    det = g.to_detections(classes=classes)
    assert det.class_id.tolist() == ids
    assert det.data["class_name"].tolist() == names


def test_to_detections_ids_are_the_same_in_every_image() -> None:
    classes = ["green square", "red square"]
    first = Grounding(boxes=[[0, 0, 5, 5]], labels=["red square"]).to_detections(classes=classes)
    second = Grounding(boxes=[[0, 0, 5, 5], [1, 1, 6, 6]], labels=["green square", "red square"])
    assert first.class_id.tolist() == [1]
    assert second.to_detections(classes=classes).class_id.tolist() == [0, 1]


def test_mapped_result_remembers_its_classes() -> None:
    from grounding.labeling.classes import map_labels

    raw = Grounding(boxes=[[0, 0, 5, 5], [1, 1, 6, 6]], labels=["red square-2", "rust"])
    mapped = map_labels(raw, ["green square", "red square"])
    assert mapped.labels == ["red square"] and "'rust'" in mapped.warnings[-1]
    assert mapped.to_detections().class_id.tolist() == [1]
    assert raw.labels == ["red square-2", "rust"]  # the input is left as it was
