"""Image identity, end to end: one key and one request per image, whatever the tree holds.

Real ``grounding label`` subprocesses against the loopback server, counting requests per image.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grounding.export._names import flat_name
from grounding.labeling import JobStore, find_images, register
from tests.labeling.conftest import detections, grounding_cli, per_image, picture

NON_UTF8 = b"caf\xe9.png"  # Latin-1 bytes: not a UTF-8 file name


def strange_tree(root: Path) -> tuple[set[str], dict[str, str]]:
    """Two cameras with the same file names, a link to an image, a file link loop, a folder
    link loop, a name that is not UTF-8 and a FIFO. Returns the keys to label and the keys
    that must fail, with their reasons."""
    (root / "cam1").mkdir(parents=True)
    (root / "cam2").mkdir()
    picture(root / "cam1" / "x.jpg", 1)
    picture(root / "cam2" / "x.jpg", 2)  # the same name as cam1's
    picture(root / "cam1" / "a.png", 3)
    picture(os.path.join(os.fsencode(root / "cam2"), NON_UTF8), 4)
    (root / "cam2" / "zz-link.jpg").symlink_to("../cam1/x.jpg")  # the same file again
    (root / "cam1" / "loop.jpg").symlink_to("loop.jpg")  # a file link loop
    (root / "cam2" / "back").symlink_to("..")  # a folder link loop
    os.mkfifo(root / "cam2" / "pipe.jpg")
    labelled = {"cam1/x.jpg", "cam2/x.jpg", "cam1/a.png", "cam2/caf%E9.png"}
    failing = {"cam1/loop.jpg": "image: symbolic link loop",
               "cam2/pipe.jpg": "image: not a regular file: a FIFO (named pipe)"}  # fmt: skip
    return labelled, failing


def coco_names(out: Path) -> set[str]:
    """The image file names of every COCO subset exported under ``out``."""
    return {
        image["file_name"].rsplit("/", 1)[-1]
        for path in (out / "coco" / "annotations").glob("instances_*.json")
        for image in json.loads(path.read_text())["images"]
    }


def test_a_strange_tree_is_labelled_once_per_image_and_rerunning_sends_nothing(
    server, tmp_path
) -> None:
    tree = tmp_path / "tree"
    labelled, failing = strange_tree(tree)
    server.default = detections()
    # overlapping inputs (tree contains cam1 and cam2), given relative to the working
    # directory, with --out inside the tree
    args = ["label", "tree/cam1", "tree/cam2", "tree", "--classes", "scratch,dent", "--out", "tree/labels",
            "--base-url", server.url, "-f", "coco,yolo", "--preview", "2", "--no-cache"]  # fmt: skip
    first = grounding_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    counts = per_image(server)
    assert len(counts) == len(labelled) and set(counts.values()) == {1}  # one request per image

    with JobStore(tree / "labels" / "job.sqlite") as store:
        rows = {row.key: row for row in store.rows()}
    assert {k for k, r in rows.items() if r.status == "done"} == labelled
    assert {k: r.error for k, r in rows.items() if r.status == "failed"} == failing
    assert all(os.path.isabs(r.source) for r in rows.values())  # exports work from anywhere
    assert not any(k.startswith("labels/") for k in rows)  # --out is never read
    assert coco_names(tree / "labels") == {flat_name(k) for k in labelled}

    # rerunning (its own previews and YOLO links now sit inside the tree) sends nothing
    again = grounding_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(server.chat_requests) == len(labelled)

    # exporting from another directory links the real files
    exported = grounding_cli("export", str(tree / "labels"), "-f", "yolo", cwd="/")
    assert exported.returncode == 0, exported.stderr
    links = list((tree / "labels" / "yolo" / "images").rglob("*.*"))
    assert len(links) == len(labelled) and all(link.exists() for link in links)


def test_the_same_relative_path_under_two_inputs_is_two_images(server, tmp_path) -> None:
    for n, camera in enumerate(("cam1", "cam2")):
        (tmp_path / camera).mkdir()
        picture(tmp_path / camera / "x.jpg", n)
    server.default = detections()

    def label(out: str, *inputs: str) -> list[str]:
        run = grounding_cli("label", *inputs, "--classes", "scratch", "--out", out, "--base-url", server.url,
                            "--no-cache", cwd=tmp_path)  # fmt: skip
        assert run.returncode == 0, run.stderr
        return sorted(coco_names(tmp_path / out))

    # together: keys relative to the inputs' common folder
    assert label("both", "cam1", "cam2") == ["cam1__x.jpg", "cam2__x.jpg"]
    # one after the other into one job: the name is taken by another file, so the second is
    # numbered, not dropped
    assert label("apart", "cam1") == ["x.jpg"]
    assert label("apart", "cam2") == ["x.jpg", "x~2.jpg"]  # keys, flattened for the export
    assert len(server.chat_requests) == 4 and set(per_image(server).values()) == {2}


@pytest.mark.parametrize(
    ("pattern", "key"),
    [
        # a wildcard before '..' once stored '../victim/evil.png'
        ("photos/*/../../victim/*.png", "victim/evil.png"),
        # a plain glob keeps keys relative to the folder before the wildcard
        ("photos/**/*.png", "cam/a.png"),
    ],
)
def test_glob_keys_never_leave_the_output_folder(
    tmp_path, monkeypatch, pattern: str, key: str
) -> None:
    (tmp_path / "photos" / "cam").mkdir(parents=True)
    (tmp_path / "victim").mkdir()
    picture(tmp_path / "photos" / "cam" / "a.png", 1)
    picture(tmp_path / "victim" / "evil.png", 2)
    monkeypatch.chdir(tmp_path)
    with JobStore(tmp_path / "out" / "job.sqlite") as store:
        register(store, find_images([pattern]), None)
        assert [row.key for row in store.rows()] == [key]
