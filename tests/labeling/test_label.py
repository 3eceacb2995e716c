"""``grounding label`` / ``export`` end to end against the loopback server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from grounding import AsyncClient
from grounding.client import RetryPolicy
from grounding.labeling import AdaptiveLimit, JobStore, LabelJob, find_images, register, run_job
from tests.labeling.conftest import detections, per_image, wait_for_done
from tests.server import chat, error

ALL = "coco,yolo,voc,labelstudio,cvat"


def label(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grounding", "label", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **kwargs.pop("env", {})}, **kwargs)  # fmt: skip


def test_every_good_image_once_bad_ones_recorded_and_exports_valid(server, photos, tmp_path) -> None:
    root, keys = photos
    out = tmp_path / "out"
    server.default = detections()
    run = label(str(root), "--classes", "scratch,dent", "--out", str(out), "--base-url", server.url,
                "-k", "8", "-f", ALL, "--preview", "3", "--no-cache")  # fmt: skip
    assert run.returncode == 0, run.stderr
    counts = per_image(server)
    assert len(counts) == 200 and set(counts.values()) == {1}  # each good image exactly once
    with JobStore(out / "job.sqlite") as store:
        assert store.counts() == {"done": 200, "failed": 3}
        reasons = {row.key: row.error for row in store.rows("failed")}
    assert set(reasons) == {"corrupt.jpg", "zero.png", "notes.JPG"}
    assert reasons["zero.png"] == "image: empty file"
    assert reasons["notes.JPG"] == "image: not an image (or a format Pillow cannot read)"
    assert reasons["corrupt.jpg"].startswith(("image: cannot be read", "image: truncated"))

    # rerunning sends nothing (the store, not the cache: --no-cache)
    again = label(str(root), "--classes", "scratch,dent", "--out", str(out), "--base-url", server.url, "--no-cache")
    assert again.returncode == 0 and len(server.chat_requests) == 200

    # COCO loads in pycocotools with 1-based ids and relative file names
    from pycocotools.coco import COCO

    with open(os.devnull, "w") as quiet:
        old, sys.stdout = sys.stdout, quiet
        try:
            ds = COCO(str(out / "coco" / "annotations" / "instances_train.json"))
        finally:
            sys.stdout = old
    assert len(ds.imgs) == 200 and min(ds.imgs) == 1 and min(ds.anns) == 1
    assert [c["name"] for c in ds.loadCats(ds.getCatIds())] == ["scratch", "dent"]
    assert len(ds.anns) == 400  # "rust" is not a class: dropped
    assert {img["file_name"] for img in ds.imgs.values()} == {k.replace("/", "__") for k in keys}  # flat names
    assert {"info", "licenses"} <= set(json.loads((out / "coco" / "annotations" / "instances_train.json").read_text()))

    # YOLO: one label file per image, values in [0, 1], class ids from 0, images linked
    labels = list((out / "yolo" / "labels").rglob("*.txt"))
    assert len(labels) == 200
    for path in labels:
        for line in path.read_text().splitlines():
            cls, *values = line.split()
            assert cls in ("0", "1") and all(0.0 <= float(v) <= 1.0 for v in values)
    assert "names:" in (out / "yolo" / "data.yaml").read_text()
    assert len(list((out / "yolo" / "images").rglob("*.*"))) == 200

    # VOC and CVAT parse as XML
    vocs = list((out / "voc" / "Annotations").glob("*.xml"))
    assert len(vocs) == 200
    voc = ElementTree.parse(vocs[0]).getroot()
    assert voc.find("size/width").text == "96" and len(voc.findall("object")) == 2
    xmin = int(voc.find("object/bndbox/xmin").text)
    assert 1 <= xmin <= 96
    cvat = ElementTree.parse(out / "cvat" / "annotations.xml").getroot()
    assert cvat.find("version").text == "1.1" and len(cvat.findall("image")) == 200
    assert {b.get("label") for b in cvat.iter("box")} == {"scratch", "dent"}

    # Label Studio: percentages in [0, 100]
    tasks = json.loads((out / "labelstudio" / "tasks.json").read_text())
    assert len(tasks) == 200
    for task in tasks:
        for result in task["predictions"][0]["result"]:
            v = result["value"]
            assert all(0 <= v[k] <= 100 for k in ("x", "y", "width", "height"))
            assert result["from_name"] == "label" and result["to_name"] == "image"

    # failed images are listed with reasons, not exported
    failed = (out / "failed.csv").read_text()
    assert "zero.png" in failed and "empty file" in failed
    assert len(list((out / "previews").rglob("*.jpg"))) == 3


def test_killed_mid_run_then_rerun_never_asks_twice_for_a_done_image(server, photos, tmp_path) -> None:
    root, _ = photos
    out = tmp_path / "out"
    server.default = detections(delay=0.05)
    args = [sys.executable, "-m", "grounding", "label", str(root), "--classes", "scratch,dent",
            "--out", str(out), "--base-url", server.url, "-k", "4", "--no-cache"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = out / "job.sqlite"
    try:
        wait_for_done(db, 40)  # the schema (images table), not just the file, then 40 done
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # also when the wait fails: never leave it running
        proc.wait()
    with sqlite3.connect(db) as conn:
        done_keys = {k for (k,) in conn.execute("SELECT key FROM images WHERE status='done'")}
    assert 40 <= len(done_keys) < 200
    requests_before = per_image(server)

    rerun = label(str(root), "--classes", "scratch,dent", "--out", str(out), "--base-url", server.url, "--no-cache")
    assert rerun.returncode == 0, rerun.stderr
    with JobStore(db) as store:
        assert store.counts() == {"done": 200, "failed": 3}
    after = per_image(server)
    # an image done before the kill was never asked again; only those in flight may repeat
    repeats = sum(1 for n in after.values() if n > 1)
    assert repeats <= 4  # at most the requests in flight when it was killed (-k 4)
    assert len(after) == 200
    assert sum(after.values()) - sum(requests_before.values()) == 200 - len(done_keys)


def test_a_storm_of_429s_completes(server, photos, tmp_path) -> None:
    root, _ = photos
    server.script(*[error(429, "1302", "too many concurrent requests") for _ in range(60)])
    server.default = detections()
    fast = RetryPolicy(max_retries=8, base_delay=0.01, slow_base_delay=0.01, max_delay=0.05)

    async def go():
        limit = AdaptiveLimit(8)
        async with AsyncClient("openai", base_url=server.url, retry=fast, on_retry=limit.on_retry) as client:
            with JobStore(tmp_path / "job.sqlite") as store:
                register(store, find_images([str(root)]), None)
                job = LabelJob(classes=["scratch", "dent"], model="glm-4.5v", prompt="find {classes}",
                               transient_pause=0.01)  # fmt: skip
                stats = await run_job(job, store, client, limit)
                return stats, store.counts(), limit

    stats, counts, limit = asyncio.run(go())
    assert counts == {"done": 200, "failed": 3}
    assert limit.rate_limited >= 50 and stats.done == 200 and stats.failed == 3


def test_arrears_stop_at_once_keep_what_is_done_and_exit_1(server, photos, tmp_path) -> None:
    root, _ = photos
    server.script(*[detections() for _ in range(10)])
    server.default = error(429, "1113", "Your account is in arrears, please recharge")
    out = tmp_path / "out"
    run = label(str(root), "--classes", "scratch", "--out", str(out), "--base-url", server.url, "-k", "2", "--no-cache")
    assert run.returncode == 1
    assert "arrears" in run.stderr and "1113" in run.stderr
    assert len(server.chat_requests) <= 10 + 2  # nothing scheduled after the first refusal
    with JobStore(out / "job.sqlite") as store:
        counts = store.counts()
    assert counts["done"] == 10 and counts["pending"] > 150
    # after recharging, the rerun finishes the rest
    server.default = detections()
    assert label(str(root), "--classes", "scratch", "--out", str(out), "--base-url", server.url, "--no-cache").returncode == 0


def test_dry_run_sends_nothing_and_estimates(server, photos, tmp_path) -> None:
    root, _ = photos
    run = label(str(root), "--classes", "scratch", "--out", str(tmp_path / "o"), "--base-url", server.url,
                "--dry-run", "--price-in", "0.6", "--price-out", "1.8")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "203" in run.stdout and "estimated cost" in run.stdout and "$" in run.stdout
    assert not server.chat_requests and not (tmp_path / "o" / "job.sqlite").exists()


def test_max_cost_stops_scheduling(server, photos, tmp_path) -> None:
    root, _ = photos
    server.default = detections()
    # each 96x64 image: ~(56/28)*(84/28)=6 image tokens + prompt; $1000/M makes one image ~ $0.1
    run = label(str(root), "--classes", "scratch", "--out", str(tmp_path / "o"), "--base-url", server.url,
                "--price-in", "1000", "--price-out", "1000", "--max-cost", "1.5", "--no-cache")  # fmt: skip
    assert run.returncode == 3 and "cost limit" in run.stderr
    assert 0 < len(server.chat_requests) < 40


def test_shards_split_the_work_and_export_merges_them(server, photos, tmp_path) -> None:
    root, _ = photos
    server.default = detections()
    for k in (1, 2):
        run = label(str(root), "--classes", "scratch,dent", "--out", str(tmp_path / f"s{k}"), "--base-url", server.url, "--shard", f"{k}/2")
        assert run.returncode == 0, run.stderr
    assert len(per_image(server)) == 200 and len(server.chat_requests) == 200
    merged = subprocess.run([sys.executable, "-m", "grounding", "export", str(tmp_path / "s1"), "--store",
                             str(tmp_path / "s2" / "job.sqlite"), "-f", "coco,yolo"], capture_output=True, text=True)  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    assert len(json.loads((tmp_path / "s1" / "coco" / "annotations" / "instances_train.json").read_text())["images"]) == 200


def test_keep_unknown_and_a_custom_prompt(server, photos, tmp_path) -> None:
    root, _ = photos
    server.default = detections()
    out = tmp_path / "o"
    run = label(str(root), "--classes", "scratch,dent", "--out", str(out), "--base-url", server.url,
                "--prompt", "List every {classes} as JSON.", "--keep-unknown", "-f", "coco")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert server.chat_requests[0].body["messages"][0]["content"][1]["text"] == "List every scratch, dent as JSON."
    cats = [c["name"] for c in json.loads((out / "coco" / "annotations" / "instances_train.json").read_text())["categories"]]
    assert cats == ["scratch", "dent", "rust"]
    changed = label(str(root), "--classes", "scratch", "--out", str(out), "--base-url", server.url)
    assert changed.returncode == 2 and "use the same --classes" in changed.stderr


def test_bad_arguments_exit_2(tmp_path) -> None:
    for args, message in (
        (["nowhere", "--classes", "a", "--out", str(tmp_path / "o"), "--base-url", "http://127.0.0.1:9/v1"], "no such folder"),
        ([str(tmp_path), "--classes", " , ", "--out", str(tmp_path / "o")], "at least one class"),
        ([str(tmp_path), "--classes", "a", "--out", str(tmp_path / "o"), "--shard", "3/2"], "shard"),
        ([str(tmp_path), "--classes", "a", "--out", str(tmp_path / "o"), "-f", "pdf"], "--format"),
    ):
        run = label(*args)
        assert run.returncode == 2 and message in (run.stderr + run.stdout), (args, run.stderr)


@pytest.mark.parametrize(
    ("second", "status"),
    [
        # still unreadable after the retry: recorded as failed with its reason
        ("[[120, 340, 560]]", "failed"),
        # the retry gives a readable answer: done
        ('[{"label": "scratch", "bbox_2d": [100,100,400,400]}]', "done"),
    ],
)
def test_an_unparseable_answer_is_asked_once_more(server, tmp_path, second: str, status: str) -> None:
    from PIL import Image

    Image.new("RGB", (64, 48), (9, 9, 9)).save(tmp_path / "one.png")
    server.script(chat("[[120, 340, 560"), chat(second))

    async def go():
        limit = AdaptiveLimit(2)
        async with AsyncClient("openai", base_url=server.url, cache=str(tmp_path / "c.sqlite")) as client:
            with JobStore(tmp_path / "job.sqlite") as store:
                register(store, find_images([str(tmp_path / "one.png")]), None)
                job = LabelJob(classes=["scratch"], model="glm-4.5v", prompt="find {classes}")
                await run_job(job, store, client, limit)
                return list(store.rows())

    (row,) = asyncio.run(go())
    assert row.status == status
    assert len(server.chat_requests) == 2  # the retry skipped the cache
    bodies = [r.body["messages"][0]["content"][0]["image_url"]["url"] for r in server.chat_requests]
    assert bodies[0] == bodies[1]  # the same prepared image both times
    if status == "failed":
        assert row.error == "unparseable answer after a retry"
