from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from grounding.datasets import DatasetError, load_samples, safe_load
from grounding.datasets.refcoco import split_matches
from grounding.datasets.synthetic import write_synthetic
from grounding.evals.score import score_predictions


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("synth"), n=120, seed=5)


def _write(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_synthetic_is_deterministic(tmp_path) -> None:
    a = write_synthetic(tmp_path / "a", n=10, seed=3)
    b = write_synthetic(tmp_path / "b", n=10, seed=3)
    assert (a / "instances.json").read_text() == (b / "instances.json").read_text()
    assert (a / "refs(unc).p").read_bytes() == (b / "refs(unc).p").read_bytes()
    assert (a / "images" / "000001.jpg").read_bytes() == (b / "images" / "000001.jpg").read_bytes()


def test_round_trip_perfect_predictions_score_100(synth, tmp_path) -> None:
    samples = list(load_samples("refcoco", synth, "val"))
    assert samples and all(s.image.exists() for s in samples)
    path = tmp_path / "perfect.jsonl"
    _write(path, [{"id": s.id, "boxes": s.boxes.tolist()} for s in samples])
    metrics = score_predictions(path, dataset="refcoco", root=synth, splits=["val"])["splits"]["val"]
    assert metrics["n"] == len(samples) and metrics["acc@0.5"] == 1.0 and metrics["miou"] == 1.0


def test_round_trip_shifted_predictions_score_as_computed_by_hand(synth, tmp_path) -> None:
    samples = list(load_samples("refcoco", synth, "testA"))
    rows, expected = [], []
    for s in samples:
        x1, y1, x2, y2 = s.boxes[0]
        w, h = x2 - x1, y2 - y1
        shift = w / 4  # shift right by a quarter of the width: IoU = (3/4) / (5/4) = 0.6
        rows.append({"id": s.id, "boxes": [[x1 + shift, y1, x2 + shift, y2]]})
        expected.append((w - shift) * h / ((w + shift) * h))
    path = tmp_path / "shifted.jsonl"
    _write(path, rows)
    metrics = score_predictions(path, dataset="refcoco", root=synth, splits=["testA"])["splits"]["testA"]
    assert metrics["miou"] == pytest.approx(np.mean(expected)) == pytest.approx(0.6)
    assert metrics["acc@0.5"] == 1.0 and metrics["acc@0.75"] == 0.0


def test_raw_responses_are_reparsed_and_missing_ids_count_as_wrong(synth, tmp_path) -> None:
    samples = list(load_samples("refcoco", synth, "val"))
    rows = []
    for s in samples[1:]:  # the first sample has no line at all
        w, h = s.size
        x1, y1, x2, y2 = s.boxes[0]
        rows.append({"id": s.id, "response": f"<think>[[1,1,2,2]]</think>[[{x1 / w * 1000:.1f},{y1 / h * 1000:.1f},{x2 / w * 1000:.1f},{y2 / h * 1000:.1f}]]"})
    rows.append({"id": samples[1].id, "error": "timeout"})  # a later error line replaces the answer
    path = tmp_path / "raw.jsonl"
    _write(path, rows)
    m = score_predictions(path, dataset="refcoco", root=synth, splits=["val"])["splits"]["val"]
    n = len(samples)
    assert m["n"] == n and m["n_missing"] == 1 and m["n_error"] == 1 and m["n_parse_fail"] == 0
    assert m["acc@0.5"] == pytest.approx((n - 2) / n)
    assert m["acc@0.5_valid"] == 1.0


class _Trap:
    def __reduce__(self):
        import os

        return (os.system, ("touch TRAP_RAN",))


def test_a_booby_trapped_pickle_is_refused_and_does_not_run(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "refs(unc).p").write_bytes(pickle.dumps([{"ref_id": 1, "payload": _Trap()}], protocol=2))
    (tmp_path / "instances.json").write_text('{"images": [], "annotations": [], "categories": []}')
    with pytest.raises(DatasetError, match=r"refused (posix|os|nt)\.system"):
        list(load_samples("refcoco", tmp_path, "val"))
    assert not (tmp_path / "TRAP_RAN").exists()


def test_safe_load_reads_python2_protocol_strings() -> None:
    data = pickle.dumps({"sent": "a cup", "ids": (1, 2), "x": 1.5, "b": None}, protocol=2)
    import io

    assert safe_load(io.BytesIO(data)) == {"sent": "a cup", "ids": (1, 2), "x": 1.5, "b": None}


@pytest.mark.parametrize(
    ("ref_split", "wanted", "match"),
    [
        ("testA", "testA", True),
        ("testB", "testA", False),
        ("testA", "test", True),  # test = any split containing "test"
        ("test", "test", True),
        ("val", "val", True),
        ("train", "val", False),
    ],
)
def test_split_semantics(ref_split: str, wanted: str, match: bool) -> None:
    assert split_matches(ref_split, wanted) is match


def test_unknown_split_names_the_splits_there(synth) -> None:
    with pytest.raises(DatasetError, match="no refs in split 'testC'"):
        list(load_samples("refcoco", synth, "testC"))


def test_jsonl_form(tmp_path) -> None:
    path = tmp_path / "refcoco_val.jsonl"
    _write(path, [{"image": "a.jpg", "sent": "the cup", "bbox": [1, 2, 30, 40], "width": 100, "height": 80}])
    (sample,) = load_samples("refcoco", path, "val")
    assert sample.boxes.tolist() == [[1, 2, 30, 40]] and sample.size == (100, 80) and sample.id == "1"


def test_screenspot_v1_and_pro(tmp_path) -> None:
    (tmp_path / "screenspot_mobile.json").write_text(json.dumps(
        [{"img_filename": "m.png", "bbox": [10, 20, 30, 40], "instruction": "open settings", "data_type": "icon"}]))
    pro = tmp_path / "pro"
    (pro / "annotations").mkdir(parents=True)
    (pro / "annotations" / "vscode_macos.json").write_text(json.dumps(
        [{"id": "p1", "img_filename": "v.png", "bbox": [10, 20, 40, 60], "img_size": [3840, 2160], "instruction": "run", "ui_type": "icon", "platform": "macos", "application": "vscode"}]))
    (v1,) = load_samples("screenspot", tmp_path, "mobile")
    assert v1.boxes.tolist() == [[10, 20, 40, 60]] and v1.expression == "open settings"
    (p,) = load_samples("screenspot", pro, "all")
    assert p.boxes.tolist() == [[10, 20, 40, 60]] and p.size == (3840, 2160) and p.meta["application"] == "vscode"


def test_coco_loader(tmp_path) -> None:
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text(json.dumps({
        "images": [{"id": 7, "file_name": "7.jpg", "width": 50, "height": 40}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4], "iscrowd": 0},
                        {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 9, 9], "iscrowd": 1}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}]}))
    (s,) = load_samples("coco", tmp_path, "val2017")
    assert s.boxes.tolist() == [[1, 2, 4, 6]] and s.labels == ("dog",) and s.categories == ("person", "dog")


def test_parquet_needs_pyarrow_or_reads(tmp_path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"question_id": ["q1"], "question": ["cup"], "answer": [["the cup", "a mug"]],
                      "bbox": [[1.0, 2.0, 3.0, 4.0]], "file_name": ["a.jpg"], "image": [{"bytes": b"x", "path": "a.jpg"}]})
    pq.write_table(table, tmp_path / "val.parquet")
    with pytest.warns(UserWarning, match="not the standard ones"):
        samples = list(load_samples("refcoco", tmp_path / "val.parquet", "val"))
    assert [s.expression for s in samples] == ["the cup", "a mug"]
    assert samples[0].boxes.tolist() == [[1, 2, 4, 6]]
