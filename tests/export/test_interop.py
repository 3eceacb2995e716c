"""The tricky job's exports loaded by the real tools: pycocotools, supervision, datumaro.

Every image present once, every box within 0.5 px of the job's, every polygon's vertices kept,
the right classes. datumaro comes with the ``interop`` extra (``pip install -e ".[interop]"``);
without it those tests skip. Ultralytics is checked in test_ultralytics.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grounding.export import export_job
from grounding.labeling import JobStore
from tests.export.conftest import CLASSES, make_tree, store_job
from tests.export.helpers import Truth, assert_same_boxes, job_truth, quietly

ALL = ["coco", "yolo", "yolo-seg", "voc", "cvat", "labelstudio"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, dict[str, Truth]]:
    tmp = tmp_path_factory.mktemp("interop")
    make_tree(tmp / "photos")
    store = store_job(tmp / "photos", tmp / "out")
    with JobStore(store) as opened:
        summary = export_job([opened], tmp / "out", classes=CLASSES, formats=ALL, val=0.3)
    assert summary.subsets.keys() == {"train", "val"}  # the fixture split has both subsets
    return tmp / "out", job_truth(store)


def _subsets(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def test_pycocotools_loads_every_image_box_and_polygon(exported) -> None:
    from pycocotools.coco import COCO

    out, truth = exported
    seen: dict[str, Truth] = {}
    for path in sorted((out / "coco" / "annotations").glob("instances_*.json")):
        coco = quietly(COCO, str(path))
        names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
        assert list(names.values()) == CLASSES and min(coco.imgs) >= 1 and min(coco.anns, default=1) >= 1
        for image in coco.imgs.values():
            assert image["file_name"] not in seen, f"{image['file_name']} twice"
            got = seen[image["file_name"]] = Truth((image["width"], image["height"]))
            assert (out / "coco" / "images" / path.stem.split("_", 1)[1] / image["file_name"]).exists()
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=image["id"])):
                x, y, w, h = ann["bbox"]
                label = names[ann["category_id"]]
                if ann["segmentation"]:
                    (flat,) = ann["segmentation"]
                    got.polygons.append((label, [flat[i:i + 2] for i in range(0, len(flat), 2)]))
                    assert coco.annToMask(ann).sum() > 0  # pycocotools rasterizes it
                else:
                    got.boxes.append((label, [x, y, x + w, y + h]))
    assert seen.keys() == truth.keys()
    for name, want in truth.items():
        assert seen[name].size == want.size, name
        assert_same_boxes(seen[name].boxes, want.boxes, name)
        assert_same_boxes([(lb, np.ravel(v).tolist()) for lb, v in seen[name].polygons],
                          [(lb, np.ravel(v).tolist()) for lb, v in want.polygons], name)  # fmt: skip


def test_coco_polygon_area_is_the_true_area(exported) -> None:
    import json

    out, truth = exported
    anns = [a for p in (out / "coco" / "annotations").glob("*.json") for a in json.loads(p.read_text())["annotations"]]
    (polygon,) = [a for a in anns if a["segmentation"]]
    v = np.asarray(truth["poly.png"].polygons[0][1])
    shoelace = abs(np.dot(v[:, 0], np.roll(v[:, 1], -1)) - np.dot(v[:, 1], np.roll(v[:, 0], -1))) / 2
    assert polygon["area"] == pytest.approx(shoelace, abs=1e-3)
    assert polygon["area"] < polygon["bbox"][2] * polygon["bbox"][3]  # not the box's area


def _check_supervision(dataset, truth: dict[str, Truth], seen: set[str]) -> None:
    for path, image, detections in dataset:
        name = Path(path).name
        assert name not in seen, f"{name} twice"
        seen.add(name)
        if image is not None:
            assert (image.shape[1], image.shape[0]) == truth[name].size, name  # upright size
        got = [(dataset.classes[c], xyxy.tolist()) for c, xyxy in zip(detections.class_id, detections.xyxy, strict=True)]
        assert_same_boxes(got, truth[name].detection_boxes(), name)


def test_supervision_from_coco(exported) -> None:
    import supervision as sv

    out, truth = exported
    seen: set[str] = set()
    for subset in _subsets(out / "coco" / "images"):
        dataset = sv.DetectionDataset.from_coco(
            images_directory_path=str(out / "coco" / "images" / subset),
            annotations_path=str(out / "coco" / "annotations" / f"instances_{subset}.json"),
        )
        assert dataset.classes == CLASSES
        _check_supervision(dataset, truth, seen)
    assert seen == truth.keys()


def test_supervision_from_yolo(exported) -> None:
    import supervision as sv

    out, truth = exported
    seen: set[str] = set()
    for subset in _subsets(out / "yolo" / "images"):
        dataset = sv.DetectionDataset.from_yolo(
            images_directory_path=str(out / "yolo" / "images" / subset),
            annotations_directory_path=str(out / "yolo" / "labels" / subset),
            data_yaml_path=str(out / "yolo" / "data.yaml"),
        )
        assert dataset.classes == CLASSES
        _check_supervision(dataset, truth, seen)
    assert seen == truth.keys()


def test_supervision_from_pascal_voc(exported) -> None:
    import supervision as sv

    out, truth = exported
    dataset = sv.DetectionDataset.from_pascal_voc(
        images_directory_path=str(out / "voc" / "JPEGImages"),
        annotations_directory_path=str(out / "voc" / "Annotations"),
    )
    seen: set[str] = set()
    _check_supervision(dataset, truth, seen)
    assert seen == truth.keys()


# --- datumaro (the library CVAT imports and exports with) ------------------------------------


def _datumaro_items(dataset) -> dict[str, tuple[object, list]]:
    import os

    items = {}
    for item in dataset:
        name = os.path.basename(item.media.path)
        assert name not in items, f"{name} twice"
        items[name] = (item, item.annotations)
    return items


@pytest.mark.parametrize(
    ("folder", "fmt"),
    [
        ("coco", "coco"),  # annotations/instances_<subset>.json beside images/
        ("voc", "voc"),  # the devkit layout: Annotations/, JPEGImages/, ImageSets/Main/
        ("cvat", "cvat"),  # annotations.xml beside images/
    ],
)
def test_datumaro_detects_the_format(exported, folder: str, fmt: str) -> None:
    datumaro = pytest.importorskip("datumaro")
    out, _ = exported
    detected = datumaro.Environment().detect_dataset(str(out / folder))
    assert any(name.split("_")[0] == fmt for name in detected), detected


@pytest.mark.parametrize(
    ("folder", "fmt", "options"),
    [
        ("coco", "coco_instances", {}),
        # VOC boxes are 1-based pixels; datumaro reads them 0-based unless told
        ("voc", "voc", {"coordinate_mode": "voc-one-based"}),
        ("cvat", "cvat", {}),
    ],
)
def test_datumaro_loads_every_image_shape_and_class(exported, folder: str, fmt: str, options: dict) -> None:
    dm = pytest.importorskip("datumaro")
    from datumaro.components.annotation import AnnotationType

    out, truth = exported
    dataset = dm.Dataset.import_from(str(out / folder), fmt, **options)
    labels = dataset.categories()[AnnotationType.label]
    items = _datumaro_items(dataset)
    assert items.keys() == truth.keys()
    for name, (item, anns) in items.items():
        want = truth[name]
        assert item.media.size == (want.size[1], want.size[0]), name  # (h, w)
        assert Path(item.media.path).exists(), name
        kinds: dict[str, list] = {"bbox": [], "polygon": [], "points": []}
        for ann in anns:
            label = labels[ann.label].name
            if ann.type == AnnotationType.bbox:
                x, y, w, h = ann.get_bbox()
                kinds["bbox"].append((label, [x, y, x + w, y + h]))
            elif ann.type == AnnotationType.polygon:
                kinds["polygon"].append((label, list(ann.points)))
            elif ann.type == AnnotationType.points:
                kinds["points"].append((label, list(ann.points)))
        if folder == "voc":  # boxes only: polygons as their bounds, no points
            assert_same_boxes(kinds["bbox"], want.detection_boxes(), name)
            continue
        # datumaro gives a COCO polygon its box too (grouped with it)
        assert_same_boxes(kinds["bbox"], want.detection_boxes() if folder == "coco" else want.boxes, name)
        assert_same_boxes(kinds["polygon"], [(lb, np.ravel(v).tolist()) for lb, v in want.polygons], name)
        if folder == "cvat":
            assert_same_boxes(kinds["points"], want.points, name)
