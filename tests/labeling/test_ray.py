"""``grounding label --engine ray`` and ``run_ray_job`` on a real local Ray cluster.

The cluster tests are slow (a cluster and a few actor pools), so behind the ``ray`` marker:
``python -m pytest -m ray`` (CI runs them as a step of its own). One cluster for the module (2 CPUs, as a small laptop); drivers run in this process or as
subprocesses joining it with ``--ray-address``. The scripted server on 127.0.0.1 plays the
model: a fixture that finds the red square in the image it was sent and answers its box in
GLM's 0-1000 scale, so every box checks the whole path (EXIF orientation, mode, resize, the
mapping back) in pixels of the upright image.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import ray
from PIL import Image

from grounding.client import RetryPolicy
from grounding.labeling import JobStore, LabelJob, find_images, register
from grounding.labeling.ray import run_ray_job
from tests.conftest import photo
from tests.labeling.conftest import per_image, wait_for_done
from tests.server import Reply, chat, error

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def cluster() -> str:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def red_square_answer(body: dict) -> Reply:
    """Fixture model: the red square of the image it received, as a GLM 0-1000 box."""
    url = body["messages"][0]["content"][0]["image_url"]["url"]
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    pixels = np.asarray(image).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    ys, xs = np.nonzero(red)
    if not len(xs):
        return chat("[]")
    w, h = image.size
    box = [round(xs.min() / w * 1000), round(ys.min() / h * 1000),
           round((xs.max() + 1) / w * 1000), round((ys.max() + 1) / h * 1000)]  # fmt: skip
    return chat(json.dumps([{"label": "scratch", "bbox_2d": box}]))


# upright size and red square (x1, y1, x2, y2) of every good image, by key
UPRIGHT = {
    "plain.jpg": ((96, 64), (10, 20, 40, 50)),
    # stored sideways (64x96) with EXIF orientation 6: a viewer shows it 96x64
    "exif/rotated.jpg": ((96, 64), (60, 8, 90, 30)),
    "palette.png": ((80, 60), (5, 5, 25, 45)),
    "palette-transparent.png": ((80, 60), (50, 30, 75, 55)),
    "a/b/c/nested.webp": ((72, 90), (30, 40, 60, 80)),
    "UPPER.PNG": ((64, 64), (0, 0, 20, 20)),
}
# corrupt, empty and text-named-as-image files: error rows, with their reasons
BROKEN = {
    "corrupt.jpg": "image: cannot be read",
    "empty.png": "image: empty file",
    "notes.webp": "image: not an image",
}


def make_tree(root: Path) -> None:
    for key, (size, square) in UPRIGHT.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        image = photo(*size, square=square)
        if key.startswith("exif/"):
            stored = image.transpose(Image.Transpose.ROTATE_90)  # orientation 6 undoes this
            exif = Image.Exif()
            exif[0x0112] = 6
            stored.save(path, quality=95, exif=exif.tobytes())
        elif key == "palette.png":
            image.convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(path)
        elif key == "palette-transparent.png":
            paletted = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
            paletted.info["transparency"] = paletted.getpixel((0, size[1] - 1))
            paletted.save(path, transparency=paletted.info["transparency"])
        elif key.endswith(".webp"):
            image.save(path, lossless=True)
        else:
            image.save(path, quality=95)
    good = io.BytesIO()
    photo(96, 64).save(good, "JPEG")
    (root / "corrupt.jpg").write_bytes(good.getvalue()[:200])
    (root / "empty.png").write_bytes(b"")
    (root / "notes.webp").write_text("not a picture")


def label(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grounding", "label", *args], capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@pytest.mark.ray
def test_engine_ray_labels_a_mixed_tree_upright_and_export_reads_it(cluster, server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    make_tree(root)
    server.default = red_square_answer
    args = [str(root), "--classes", "scratch", "--out", str(out), "--base-url", server.url, "--no-cache",
            "--engine", "ray", "--ray-address", cluster, "-k", "4", "-f", "coco"]  # fmt: skip
    run = label(*args)
    assert run.returncode == 0, run.stderr
    assert len(server.chat_requests) == len(UPRIGHT)  # one request per good image, none for bad ones
    with JobStore(out / "job.sqlite") as store:
        rows = {row.key: row for row in store.rows()}
    assert {k for k, r in rows.items() if r.status == "done"} == set(UPRIGHT)
    for key, reason in BROKEN.items():  # an error row each, with the path and the reason
        assert rows[key].status == "failed" and rows[key].error.startswith(reason), rows[key]
        assert rows[key].source == str(root / key)
    for key, (size, _) in UPRIGHT.items():  # rows carry the upright size, usage and raw answer
        assert (rows[key].width, rows[key].height) == size, key
        assert rows[key].usage["prompt_tokens"] == 1200 and "bbox_2d" in rows[key].response

    # the export reads the Ray job like any job: every box where the square is, upright
    coco = json.loads((out / "coco" / "annotations" / "instances_train.json").read_text())
    names = {img["id"]: img for img in coco["images"]}
    by_name = {key.replace("/", "__"): value for key, value in UPRIGHT.items()}  # the flat export names
    assert len(coco["annotations"]) == len(UPRIGHT)
    for ann in coco["annotations"]:
        img = names[ann["image_id"]]
        size, (x1, y1, x2, y2) = by_name[img["file_name"]]
        assert (img["width"], img["height"]) == size
        np.testing.assert_allclose(ann["bbox"], [x1, y1, x2 - x1, y2 - y1], atol=1.5, err_msg=img["file_name"])

    # grounding export reads it at any time, in every format: YOLO's box of the rotated photo is upright too
    export = subprocess.run([sys.executable, "-m", "grounding", "export", str(out), "-f", "coco,yolo,voc,labelstudio,cvat"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert export.returncode == 0, export.stderr
    (size, (x1, y1, x2, y2)) = UPRIGHT["exif/rotated.jpg"]
    _, cx, cy, w, h = (float(v) for v in (out / "yolo" / "labels" / "train" / "exif__rotated.txt").read_text().split())
    np.testing.assert_allclose([cx * size[0], cy * size[1], w * size[0], h * size[1]],
                               [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], atol=1.5)  # fmt: skip

    # the same command again sends nothing and changes nothing
    again = label(*args)
    assert again.returncode == 0, again.stderr
    assert len(server.chat_requests) == len(UPRIGHT)
    with JobStore(out / "job.sqlite") as store:
        assert store.counts() == {"done": len(UPRIGHT), "failed": len(BROKEN)}


def recipe(server_url: str, root: Path, out: Path, concurrency: int = 4, **job: object):
    """The README's Python recipe."""
    with JobStore(out / "job.sqlite") as store:
        register(store, find_images([str(root)]), None)
        store.set_meta("job", {"classes": ["scratch"], "prompt": "find {classes}", "model": "glm-4.5v"})
        spec = LabelJob(classes=["scratch"], model="glm-4.5v", prompt="find {classes}", concurrency=concurrency, **job)
        fast = RetryPolicy(max_retries=8, base_delay=0.01, slow_base_delay=0.01, max_delay=0.05)
        client = {"provider": "openai", "base_url": server_url, "cache": False, "retry": fast}
        stats = run_ray_job(spec, store, client, actors=2)
        return stats, store.counts()


def many(root: Path, n: int) -> None:
    for i in range(n):
        folder = root / f"d{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 32), (i, 255 - i, (i * 7) % 256)).save(folder / f"{i:03d}.png")  # distinct


@pytest.mark.ray
def test_arrears_stop_the_whole_job_after_at_most_the_requests_in_flight(cluster, server, tmp_path) -> None:
    many(tmp_path / "p", 60)
    server.script(*[chat('[{"label": "scratch", "bbox_2d": [1,1,500,500]}]') for _ in range(10)])
    server.default = error(429, "1113", "Your account is in arrears, please recharge")
    stats, counts = recipe(server.url, tmp_path / "p", tmp_path / "o", concurrency=4)
    assert stats.fatal and "arrears" in stats.stopped and "1113" in stats.stopped
    assert len(server.chat_requests) <= 10 + 4  # nothing started after the first refusal
    assert counts["done"] == 10 and counts["pending"] == 50 and "failed" not in counts

    # after recharging, the same job finishes the rest, asking nothing twice; a storm of rate
    # limits on the way delays images and fails none
    server.script(*[error(429, "1302", "too many concurrent requests") for _ in range(40)])
    server.default = chat('[{"label": "scratch", "bbox_2d": [1,1,500,500]}]')
    before = len(server.chat_requests)
    stats, counts = recipe(server.url, tmp_path / "p", tmp_path / "o", transient_pause=0.01)
    assert counts == {"done": 60} and stats.done == 50 and not stats.stopped
    assert len(server.chat_requests) - before == 50 + 40  # each of the 50 answered once


@pytest.mark.ray
def test_a_killed_driver_reruns_only_the_pending_images(cluster, server, tmp_path) -> None:
    root, out = tmp_path / "p", tmp_path / "o"
    many(root, 60)
    answer, lock, in_flight = chat('[{"label": "scratch", "bbox_2d": [1,1,500,500]}]'), threading.Lock(), [0, 0]

    def slow(body: dict) -> Reply:  # answers after 0.3 s, counting the requests in flight
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
        time.sleep(0.3)
        with lock:
            in_flight[0] -= 1
        return answer

    server.default = slow
    args = [sys.executable, "-m", "grounding", "label", str(root), "--classes", "scratch", "--out", str(out),
            "--base-url", server.url, "--no-cache", "--engine", "ray", "--ray-address", cluster, "-k", "4"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = out / "job.sqlite"
    try:
        wait_for_done(db, 12, timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # also when the wait fails: never leave it running
        proc.wait()
    time.sleep(1.0)  # the cluster notices the dead driver and ends its actors
    with sqlite3.connect(db) as conn:
        done_keys = {k for (k,) in conn.execute("SELECT key FROM images WHERE status='done'")}
    assert 12 <= len(done_keys) < 60
    before = per_image(server)
    # asked before the kill but not stored: in flight (-k 4) or on the way to the driver
    assert sum(before.values()) - len(done_keys) <= 4 + 4
    assert in_flight[1] == 4  # the two async actors kept their shares of -k 4 busy, no more

    stats, counts = recipe(server.url, root, out)  # the rerun (in this process: one Ray start less)
    assert counts == {"done": 60} and stats.done == 60 - len(done_keys)
    with JobStore(db) as store:
        assert len(list(store.rows())) == 60  # one row per image, no duplicates
    after = per_image(server)
    assert len(after) == 60
    # the rerun asked exactly for the images not done, and never for a done one
    assert sum(after.values()) - sum(before.values()) == 60 - len(done_keys)
    # ... so the only images asked twice are those asked before the kill and not stored
    assert sum(1 for n in after.values() if n > 1) == sum(before.values()) - len(done_keys)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # Ray cannot cap the cost across actors: refused before anything is sent
        (["--max-cost", "1", "--price-in", "1", "--price-out", "1"], "--max-cost not available with --engine ray"),
        # nor a deadline for the whole job
        (["--deadline", "60"], "--deadline not available with --engine ray"),
        # nobody listens at the address: one line at once (Ray itself retries for minutes)
        (["--ray-address", "127.0.0.1:1"], "--ray-address 127.0.0.1:1: no Ray cluster answers there"),
    ],
)
def test_what_ray_cannot_do_is_one_line_and_exit_2(server, tmp_path, extra: list[str], message: str) -> None:
    make_tree(tmp_path / "p")
    run = label(str(tmp_path / "p"), "--classes", "scratch", "--out", str(tmp_path / "o"), "--base-url", server.url,
                "--engine", "ray", *extra)  # fmt: skip
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not server.chat_requests


def test_the_api_key_travels_to_the_actors_hidden() -> None:
    from grounding import AsyncClient
    from grounding.labeling.ray import client_options
    from grounding.labeling.ray._worker import Secret

    client = AsyncClient("zai", api_key="sk-very-secret", model="glm-4.5v", timeout=12.0, cache=False)
    options = client_options(client)
    assert options["api_key"] == "sk-very-secret" and options["timeout"] == 12.0 and options["cache"] is False
    assert "sk-very-secret" not in repr(Secret(options["api_key"]))
