"""Done when: the tricky tree goes through ``grounding label`` (against the scripted loopback
server) and ``grounding export -f coco,yolo,voc,cvat,labelstudio``, and each folder loads in its
tool with nothing lost, doubled or misplaced, polygons and points included."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.export import test_interop as interop
from tests.export.conftest import TRICKY, answer_for, make_tree
from tests.export.helpers import job_truth


def grounding(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grounding", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})  # fmt: skip


def test_label_then_export_loads_in_every_tool(server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    make_tree(root)
    server.default = answer_for
    run = grounding("label", str(root), "--classes", "scratch,dent", "--out", str(out),
                    "--base-url", server.url, "--no-cache", "-k", "4", "-f", "coco")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert len(server.chat_requests) == len(TRICKY)
    truth = job_truth(out / "job.sqlite")
    # the parser gave the job a polygon, a point and an empty image, as the fixture answers say
    assert len(truth["poly.png"].polygons) == 1 and len(truth["point.png"].points) == 1
    assert truth["empty.png"].boxes == [] and truth["rotated.jpg"].size == (48, 64)

    run = grounding("export", str(out), "-f", "coco,yolo,voc,cvat,labelstudio", "--val", "0.3")
    assert run.returncode == 0, run.stderr
    assert f"exported {len(TRICKY)} images" in run.stderr and "renamed.csv" in run.stderr
    assert "LOCAL_FILES_DOCUMENT_ROOT" in run.stderr

    exported = (out, truth)
    interop.test_pycocotools_loads_every_image_box_and_polygon(exported)
    interop.test_supervision_from_coco(exported)
    interop.test_supervision_from_yolo(exported)
    interop.test_supervision_from_pascal_voc(exported)
    for folder, fmt, options in (("coco", "coco_instances", {}), ("cvat", "cvat", {}),
                                 ("voc", "voc", {"coordinate_mode": "voc-one-based"})):  # fmt: skip
        interop.test_datumaro_loads_every_image_shape_and_class(exported, folder, fmt, options)
