"""The YOLO exports in the real Ultralytics: ``check_det_dataset`` and ``YOLODataset``.

Ultralytics pulls PyTorch, so it is not installed in CI and this module skips there. Run it by
hand in a separate environment (the README's export section has the command):

    python -m venv /tmp/yolo && /tmp/yolo/bin/pip install torch ultralytics -e ".[dev]"
    YOLO_OFFLINE=1 /tmp/yolo/bin/python -m pytest -m ultralytics tests/export -p no:cacheprovider
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from grounding.export import export_job
from grounding.labeling import JobStore
from tests.export.conftest import CLASSES, TRICKY
from tests.export.helpers import assert_same_boxes, job_truth

pytestmark = pytest.mark.ultralytics


@pytest.fixture
def ultralytics(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics-settings"))
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    return pytest.importorskip("ultralytics")


@pytest.mark.parametrize(("fmt", "task"), [("yolo", "detect"), ("yolo-seg", "segment")])
def test_ultralytics_loads_the_moved_dataset(ultralytics, tricky, tmp_path, fmt: str, task: str) -> None:
    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    _, out = tricky
    with JobStore(out / "job.sqlite") as store:
        export_job([store], out, classes=CLASSES, formats=[fmt], val=0.3)
    truth = job_truth(out / "job.sqlite")
    moved = Path(shutil.move(str(out / fmt), str(tmp_path / "moved" / "dataset")))  # still works
    data = check_det_dataset(str(moved / "data.yaml"), autodownload=False)
    assert data["names"] == dict(enumerate(CLASSES))
    assert Path(data["train"]) == moved / "images" / "train" and Path(data["val"]) == moved / "images" / "val"
    seen: set[str] = set()
    for split in ("train", "val"):
        dataset = YOLODataset(img_path=data[split], data=data, task=task, imgsz=64, augment=False)
        for label in dataset.labels:
            name = Path(label["im_file"]).name
            assert name not in seen, f"{name} twice"
            seen.add(name)
            want = truth[name]
            h, w = label["shape"]
            assert (w, h) == want.size, name  # the upright (EXIF) size
            classes = [CLASSES[int(c)] for c in label["cls"].ravel()]
            if task == "detect":
                got = [[(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
                       for cx, cy, bw, bh in label["bboxes"]]  # fmt: skip
                assert_same_boxes(list(zip(classes, got, strict=True)), want.detection_boxes(), name)
            else:
                segments = [np.asarray(s) * [w, h] for s in label["segments"]]
                for _, vertices in want.polygons:
                    assert any(s.shape == np.shape(vertices) and np.allclose(s, vertices, atol=0.5) for s in segments), name
                assert len(segments) == len(want.boxes) + len(want.polygons), name
    assert seen == {case.name for case in TRICKY}
