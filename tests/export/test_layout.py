"""Each finding of issue 11, one test each: layouts the tools import as written.

Where a tool is too heavy for CI (Ultralytics), the test states the rule from its source
(quoted in the test) and checks the export against that rule; test_ultralytics.py runs the
real thing.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import numpy as np
import pytest

from grounding.export import ExportError, export_job
from grounding.labeling import JobStore
from tests.export.conftest import CLASSES, TRICKY
from tests.export.helpers import job_truth


def export(out: Path, formats: list[str], **options):
    with JobStore(out / "job.sqlite") as store:
        return export_job([store], out, classes=CLASSES, formats=formats, **options)


def test_same_stem_two_extensions_keep_their_own_labels(tricky) -> None:
    _, out = tricky
    summary = export(out, ["yolo", "voc"])
    labels = out / "yolo" / "labels" / "train"
    # x.jpg has a scratch, x.png a dent: each label file holds its own image's box
    assert (labels / "x.txt").read_text().split()[0] == "0"
    assert (labels / "x_png.txt").read_text().split()[0] == "1"
    assert (out / "yolo" / "images" / "train" / "x_png.png").exists()
    voc_x = ElementTree.parse(out / "voc" / "Annotations" / "x.xml").getroot()
    voc_png = ElementTree.parse(out / "voc" / "Annotations" / "x_png.xml").getroot()
    assert voc_x.find("filename").text == "x.jpg" and voc_x.find("object/name").text == "scratch"
    assert voc_png.find("filename").text == "x_png.png" and voc_png.find("object/name").text == "dent"
    # and the summary says so, with the mapping written down
    assert summary.renamed == 1 and "renamed.csv" in summary.notes[0]
    assert "x.png,x_png.png" in (out / "renamed.csv").read_text()


def _ultralytics_label_path(image: str) -> str:
    """Ultralytics' img2label_paths (ultralytics/data/utils.py): the last '/images/' becomes
    '/labels/' and the extension '.txt'."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(image.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


@pytest.mark.parametrize("fmt", ["yolo", "yolo-seg"])
def test_every_image_maps_to_its_own_label_file_by_ultralytics_rule(tricky, fmt: str) -> None:
    _, out = tricky
    export(out, [fmt], val=0.3)
    images = sorted(p for p in (out / fmt / "images").rglob("*") if p.is_file())
    assert len(images) == len(TRICKY)
    label_files = [_ultralytics_label_path(str(p)) for p in images]
    assert len(set(label_files)) == len(images)  # no two images share a label file
    assert all(Path(f).is_file() for f in label_files)
    # the image under an input folder called "images" gets its box, not background
    (q,) = [p for p in images if p.name.startswith("line__images")]
    assert Path(_ultralytics_label_path(str(q))).read_text().strip()


def test_data_yaml_survives_a_move_and_splits_train_and_val(tricky, tmp_path) -> None:
    _, out = tricky
    export(out, ["yolo"], val=0.3)
    text = (out / "yolo" / "data.yaml").read_text()
    assert not any(line.startswith("path:") for line in text.splitlines())
    moved = Path(shutil.move(str(out / "yolo"), str(tmp_path / "elsewhere")))
    # check_det_dataset: path = data.get("path") or the yaml's folder; train/val under it
    data = {k.strip(): v.split("#")[0].strip() for k, v in
            (line.split(":", 1) for line in text.splitlines() if line and not line.startswith(("#", " ")))}  # fmt: skip
    train, val = moved / data["train"], moved / data["val"]
    assert train != val and train.is_dir() and val.is_dir()
    n_train, n_val = len(list(train.iterdir())), len(list(val.iterdir()))
    assert n_train + n_val == len(TRICKY) and n_val > 0


def test_val_split_is_stable_and_shared_by_every_format(tricky) -> None:
    _, out = tricky
    export(out, ["coco", "yolo", "voc"], val=0.3)
    yolo_val = sorted(p.name for p in (out / "yolo" / "images" / "val").iterdir())
    coco_val = sorted(i["file_name"] for i in json.loads((out / "coco" / "annotations" / "instances_val.json").read_text())["images"])
    voc_val = sorted((out / "voc" / "ImageSets" / "Main" / "val.txt").read_text().split("\n")[:-1])
    assert yolo_val == coco_val and [os.path.splitext(n)[0] for n in yolo_val] == voc_val
    export(out, ["yolo"], val=0.3)  # again: the same split
    assert sorted(p.name for p in (out / "yolo" / "images" / "val").iterdir()) == yolo_val


def test_no_split_says_val_is_the_training_set(tricky) -> None:
    _, out = tricky
    summary = export(out, ["yolo"])
    assert summary.subsets == {"train": len(TRICKY)}
    assert "val: images/train  # no validation split" in (out / "yolo" / "data.yaml").read_text()


def test_voc_is_a_devkit_folder_whose_names_resolve(tricky) -> None:
    _, out = tricky
    export(out, ["voc"], val=0.3)
    voc = out / "voc"
    ids = [line for s in ("train", "val") for line in (voc / "ImageSets" / "Main" / f"{s}.txt").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == len(TRICKY)
    for stem in ids:
        root = ElementTree.parse(voc / "Annotations" / f"{stem}.xml").getroot()
        assert (voc / root.find("folder").text / root.find("filename").text).is_file()
        assert Path(root.find("path").text).is_file()
    assert (voc / "labelmap.txt").read_text().splitlines()[1:] == ["background:0,0,0::", "scratch:::", "dent:::"]


def test_voc_boxes_are_one_based_and_within_half_a_pixel(tricky) -> None:
    _, out = tricky
    export(out, ["voc"])
    truth = job_truth(out / "job.sqlite")
    root = ElementTree.parse(out / "voc" / "Annotations" / "cam1__p.xml").getroot()
    box = [int(root.find(f"object/bndbox/{k}").text) for k in ("xmin", "ymin", "xmax", "ymax")]
    ((_, want),) = truth["cam1__p.jpg"].boxes
    np.testing.assert_allclose([box[0] - 1, box[1] - 1, box[2], box[3]], want, atol=0.5)


def _served_file(url: str, document_root: str, storages: list[str]) -> str | None:
    """What Label Studio's localfiles_data view serves for ``url`` (label_studio/io_storages/
    localfiles/views.py): Django decodes the query, ``d`` is normalized and joined to
    LOCAL_FILES_DOCUMENT_ROOT, and the file's folder must lie inside a storage path."""
    query = parse_qs(urlsplit(url).query)  # Django's QueryDict decodes like this: '+' is a space
    if list(query) != ["d"] or len(query["d"]) != 1:
        return None  # '#' cut the URL, or '&' split it into more parameters
    path = posixpath.normpath(query["d"][0]).lstrip("/")
    full = os.path.normpath(os.path.join(document_root, path))
    folder = os.path.dirname(full)
    if not any(folder == s or folder.startswith(s + os.sep) for s in storages):
        return None
    return full if os.path.exists(full) else None


def test_label_studio_urls_are_encoded_and_served_by_local_files_storage(tricky) -> None:
    root, out = tricky
    summary = export(out, ["labelstudio"])
    tasks = json.loads((out / "labelstudio" / "tasks.json").read_text())
    assert len(tasks) == len(TRICKY)
    # the documented setup: document root = the input folder's parent, storage = the input folder
    setup = (out / "labelstudio" / "setup.txt").read_text()
    document_root, storage = str(root.parent), str(root)
    assert f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={document_root} " in setup
    assert f"storage with the path {storage} " in setup and any(storage in n for n in summary.notes)
    assert storage != document_root  # Label Studio refuses a storage path equal to the root
    served = {_served_file(t["data"]["image"], document_root, [storage]) for t in tasks}
    assert served == {str(root / case.key) for case in TRICKY}
    urls = {t["data"]["image"] for t in tasks}
    assert {"/data/local-files/?d=photos/a%2Bb.jpg", "/data/local-files/?d=photos/c%231.jpg",
            "/data/local-files/?d=photos/x%26y%3Dz.png"} <= urls  # fmt: skip


def test_label_studio_refuses_a_root_that_equals_the_storage(tricky) -> None:
    root, out = tricky
    with pytest.raises(ExportError, match="directly in the document root"):
        export(out, ["labelstudio"], ls_root=root)
    assert not (out / "labelstudio").exists()  # nothing half-written


def test_label_studio_config_matches_the_predictions(tricky) -> None:
    _, out = tricky
    export(out, ["labelstudio"], ls_from_name="defect", ls_to_name="photo")
    config = ElementTree.parse(out / "labelstudio" / "labelstudio-config.xml").getroot()
    controls = {c.tag: c for c in config if c.tag != "Image"}
    assert set(controls) == {"RectangleLabels", "PolygonLabels", "KeyPointLabels"}
    (image,) = config.iter("Image")
    assert image.get("name") == "photo" and image.get("value") == "$image"
    for control in controls.values():
        assert control.get("toName") == "photo"
        assert [label.get("value") for label in control] == CLASSES
    names = {c.get("name"): tag.lower() for tag, c in controls.items()}
    tasks = json.loads((out / "labelstudio" / "tasks.json").read_text())
    results = [r for t in tasks for r in t["predictions"][0]["result"]]
    assert {r["type"] for r in results} == {"rectanglelabels", "polygonlabels", "keypointlabels"}
    assert all(names[r["from_name"]] == r["type"] and r["to_name"] == "photo" for r in results)


def test_polygons_and_points_keep_their_shape_in_label_studio_and_yolo_seg(tricky) -> None:
    _, out = tricky
    export(out, ["labelstudio", "yolo-seg"])
    truth = job_truth(out / "job.sqlite")["poly.png"]
    w, h = truth.size
    ((_, vertices),) = truth.polygons
    tasks = json.loads((out / "labelstudio" / "tasks.json").read_text())
    results = [r for t in tasks for r in t["predictions"][0]["result"]]
    (polygon,) = [r for r in results if r["type"] == "polygonlabels"]
    got = [[x * w / 100, y * h / 100] for x, y in polygon["value"]["points"]]
    np.testing.assert_allclose(got, vertices, atol=0.5)
    assert polygon["value"]["polygonlabels"] == ["dent"]
    (point,) = [r for r in results if r["type"] == "keypointlabels"]
    ((_, xy),) = job_truth(out / "job.sqlite")["point.png"].points
    np.testing.assert_allclose([point["value"]["x"] * 64 / 100, point["value"]["y"] * 48 / 100], xy, atol=0.5)
    # yolo-seg: class, then the vertices normalized; a box becomes its four corners
    lines = (out / "yolo-seg" / "labels" / "train" / "poly.txt").read_text().splitlines()
    segments = {tuple(map(float, line.split()[1:])) for line in lines}
    assert any(np.allclose(np.reshape(s, (-1, 2)) * [w, h], vertices, atol=0.5) for s in segments if len(s) == 8)
    assert all(len(s) >= 6 for s in segments)


def test_coordinates_have_no_float_noise(tmp_path) -> None:
    """Issue 12: 0.01 px kept, and no 76.16000000000003 in any file."""
    from grounding.labeling import Item

    (tmp_path / "a.png").write_bytes(b"")
    with JobStore(tmp_path / "job.sqlite") as store:
        store.add([Item("a.png", str(tmp_path / "a.png"), str(tmp_path))])
        noisy = [0.1 + 0.2, 76.16000000000003, 100.01000000000001, 200.29999999999998]
        store.finish("a.png", status="done", size=(4000, 3000), result={"boxes": [{"xyxy": noisy, "label": "scratch"}]})
        export_job([store], tmp_path, classes=CLASSES, formats=["coco", "cvat", "labelstudio", "yolo"], ls_root=tmp_path.parent)
    coco = (tmp_path / "coco" / "annotations" / "instances_train.json").read_text()
    assert '"bbox": [0.3, 76.16, 99.71, 124.14]' in coco
    cvat = (tmp_path / "cvat" / "annotations.xml").read_text()
    assert 'xtl="0.3" ytl="76.16" xbr="100.01" ybr="200.3"' in cvat
    for text in (coco, cvat, (tmp_path / "labelstudio" / "tasks.json").read_text(),
                 (tmp_path / "yolo" / "labels" / "train" / "a.txt").read_text()):  # fmt: skip
        assert "0000000" not in text and "9999999" not in text
    cx = float((tmp_path / "yolo" / "labels" / "train" / "a.txt").read_text().split()[1])
    assert abs(cx * 4000 - (0.3 + 100.01) / 2) < 0.001  # 0.01 px kept on a 4000 px image


def test_an_image_gone_since_labeling_is_left_out_and_listed(tricky) -> None:
    root, out = tricky
    (root / "cam1" / "p.jpg").unlink()
    summary = export(out, ["coco", "voc"])
    assert summary.missing == 1 and summary.images == len(TRICKY) - 1 and "no longer on disk" in summary.notes[0]
    assert "cam1/p.jpg" in (out / "failed.csv").read_text()
    names = [i["file_name"] for i in json.loads((out / "coco" / "annotations" / "instances_train.json").read_text())["images"]]
    assert "cam1__p.jpg" not in names and not (out / "voc" / "JPEGImages" / "cam1__p.jpg").exists()
