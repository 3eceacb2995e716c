"""Faults around a labeling job: a second writer, a full or read-only disk, a damaged store,
rate-limit storms, strange answers, Ctrl-C. Real ``grounding`` subprocesses against the
loopback server, counting requests per image."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys

import pytest

from grounding import AsyncClient
from grounding.client import _base as client_base
from grounding.labeling import (
    AdaptiveLimit,
    Item,
    JobStore,
    LabelJob,
    find_images,
    register,
    run_job,
)
from tests.conftest import REPO
from tests.labeling.conftest import (
    detections,
    grounding_cli,
    grounding_here,
    one_line_error,
    per_image,
    picture,
    pictures,
    wait_for_done,
)
from tests.server import chat, error


def label_args(root, out, server, *more: str) -> list[str]:
    return ["label", str(root), "--classes", "scratch,dent", "--out", str(out), "--base-url", server.url,
            "--no-cache", *more]  # fmt: skip


def popen(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grounding", *args], text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, **kwargs)  # fmt: skip


def test_one_writer_per_job_and_a_killed_writer_does_not_block(server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    pictures(root, 10)
    server.default = detections(delay=2.0)  # 20 s for all: it is still running when refused
    first = popen(
        *label_args(root, out, server, "-k", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_done(out / "job.sqlite", 1)
        for second in (
            grounding_cli(*label_args(root, out, server)),
            grounding_cli("export", str(out)),
        ):
            assert second.returncode == 2
            line = one_line_error(second.stderr)
            assert (
                f"pid {first.pid} on {socket.gethostname()}" in line and "grounding label" in line
            )
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # its lock is left behind, stale
        first.wait()
    asked = per_image(server)
    server.default = detections()
    rerun = grounding_cli(*label_args(root, out, server))
    assert rerun.returncode == 0, rerun.stderr
    after = per_image(server)
    assert (
        len(after) == 10 and sum(1 for n in after.values() if n > 1) <= 1
    )  # only the one in flight
    assert sum(asked.values()) < 10


def test_a_full_disk_mid_run_is_one_line_exit_2_and_nothing_done_is_lost(server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    pictures(root, 60)
    server.default = detections()
    full = grounding_cli(
        *label_args(root, out, server, "-k", "2"), fsize=160_000
    )  # any file > 160 kB fails
    assert full.returncode == 2, full.stderr
    line = one_line_error(full.stderr)
    assert str(out / "job.sqlite") in line and "disk" in line
    with JobStore(out / "job.sqlite") as store:
        done = store.counts().get("done", 0)
    assert 0 < done < 60
    sent = per_image(server)
    rerun = grounding_cli(*label_args(root, out, server))
    assert rerun.returncode == 0, rerun.stderr
    with JobStore(out / "job.sqlite") as store:
        assert store.counts() == {"done": 60}
        done_keys = {row.key for row in store.rows()}
    assert len(done_keys) == 60
    # every image done before the fault was kept: the rerun asked only for the others
    assert sum(per_image(server).values()) - sum(sent.values()) <= 60 - done + 2


@pytest.mark.parametrize(
    ("out", "unprivileged", "words"),
    [
        # a folder the user may not write
        ("readonly", True, ("Permission denied",)),
        # a place no folder can be made
        ("/proc/forbidden", False, ("/proc/forbidden", "cannot create")),
    ],
)
def test_an_unwritable_out_is_one_line_before_any_request(
    server, tmp_path, out, unprivileged, words
) -> None:
    root = tmp_path / "photos"
    pictures(root, 2)
    if out == "readonly":
        out = tmp_path / "readonly"
        out.mkdir()
        out.chmod(0o555)
    server.default = detections()
    args = label_args(root, out, server)
    run = grounding_cli(*args, unprivileged=True) if unprivileged else grounding_here(*args)
    assert run.returncode == 2, run.stderr
    line = one_line_error(run.stderr)
    assert str(out) in line and all(w in line for w in words)
    assert not server.chat_requests


def _damage(path, how: str) -> None:
    if how == "foreign":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE users (name TEXT)")
        return
    with JobStore(path) as store:  # a real job, many pages long
        store.add(Item(f"{i:04d}.png", f"/nowhere/{i:04d}.png", "/nowhere") for i in range(400))
        for i in range(0, 400, 2):
            store.finish(f"{i:04d}.png", status="done", response="x" * 300, result={"boxes": []})
    with open(path, "r+b") as file:
        file.seek(0 if how == "header" else 4096 * 6)
        file.write(b"\xa5" * (16 if how == "header" else 4096))


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("header", "not a SQLite database"),  # the first bytes overwritten
        ("page", "corrupt"),  # a page in the middle overwritten
        ("foreign", "not a grounding job store"),  # some other program's database
    ],
)
def test_a_damaged_or_foreign_store_is_refused_before_any_request(
    server, tmp_path, how, words
) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    pictures(root, 2)
    out.mkdir()
    _damage(out / "job.sqlite", how)
    before = (out / "job.sqlite").read_bytes()
    server.default = detections()
    run = grounding_here(*label_args(root, out, server))
    assert run.returncode == 2, run.stderr
    line = one_line_error(run.stderr)
    assert str(out / "job.sqlite") in line and words in line
    assert not server.chat_requests
    assert (out / "job.sqlite").read_bytes() == before  # not "repaired" into another shape


def test_a_crafted_shard_store_is_refused_on_read(tmp_path) -> None:
    (tmp_path / "s1").mkdir()
    for name, key in (("s1", "a.png"), ("crafted", "b.png")):
        with JobStore(tmp_path / name / "job.sqlite") as store:
            store.set_meta("job", {"classes": ["scratch"], "prompt": "p", "model": "glm-4.5v"})
            store.add([Item(key, str(tmp_path / key), str(tmp_path))])
            store.finish(key, status="done", result={"boxes": []}, size=(40, 30))
    with sqlite3.connect(tmp_path / "crafted" / "job.sqlite") as db:
        db.execute("UPDATE images SET key = '../../victim/evil.png'")
    run = grounding_here("export", str(tmp_path / "s1"), "--store", str(tmp_path / "crafted" / "job.sqlite"),
                        "-f", "yolo,voc,coco")  # fmt: skip
    assert run.returncode == 2
    line = one_line_error(run.stderr)
    assert str(tmp_path / "crafted" / "job.sqlite") in line and "../../victim/evil.png" in line
    assert not list(tmp_path.parent.rglob("evil.*"))


def test_a_long_rate_limit_storm_delays_images_and_never_fails_them(server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    pictures(root, 40)
    server.script(*[error(429, "1302", "too many requests", retry_after="0") for _ in range(200)])
    server.default = detections()
    run = grounding_cli(*label_args(root, out, server, "-k", "4"))
    assert run.returncode == 0, run.stderr
    with JobStore(out / "job.sqlite") as store:
        assert store.counts() == {"done": 40}
    assert len(server.chat_requests) == 240 and len(per_image(server)) == 40


def test_only_a_deadline_ends_the_wait_and_leaves_images_pending(server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    pictures(root, 3)
    server.default = error(429, "1302", "too many requests", retry_after="0.2")
    run = grounding_cli(*label_args(root, out, server, "--deadline", "2"))
    assert run.returncode == 3 and "deadline" in run.stderr and "Traceback" not in run.stderr
    with JobStore(out / "job.sqlite") as store:
        assert store.counts() == {"pending": 3}  # not failed: rerun to continue


def test_an_answer_the_parser_fails_on_is_recorded_and_never_reused_from_the_cache(
    server, tmp_path, monkeypatch
) -> None:
    pictures(tmp_path / "photos", 2)
    strange = '[{"label": "scratch", "bbox_2d": [100, 100, 4' + "0" * 330 + ", 400]}]"
    real = client_base.ground_response

    def parse_like_before(response, prepared, model):  # the parser raised on this answer
        if response.content == strange:
            raise OverflowError("int too large to convert to float")
        return real(response, prepared, model)

    monkeypatch.setattr(client_base, "ground_response", parse_like_before)
    server.script(chat(strange), chat(strange))
    server.default = detections()

    async def go(retry_failed: bool):
        async with AsyncClient(
            "openai", base_url=server.url, cache=str(tmp_path / "cache.sqlite")
        ) as client:
            with JobStore(tmp_path / "job.sqlite") as store:
                register(store, find_images([str(tmp_path / "photos")]), None)
                job = LabelJob(
                    classes=["scratch"], model="glm-4.5v", prompt="find", retry_failed=retry_failed
                )
                await run_job(job, store, client, AdaptiveLimit(1))
                return {row.key: (row.status, row.error) for row in store.rows()}

    first = asyncio.run(go(False))
    assert first["p001.png"] == ("done", None)
    status, reason = first["p000.png"]
    assert status == "failed" and "OverflowError" in reason
    assert len(server.chat_requests) == 3  # asked again past the cache, then recorded
    # --retry-failed: the cached answer that broke the parser is not the final word
    assert asyncio.run(go(True))["p000.png"] == ("done", None)
    assert len(server.chat_requests) == 4


def test_ctrl_c_says_how_to_resume_and_exits_130(server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    pictures(root, 20)
    server.default = detections(delay=0.2)
    proc = popen(
        *label_args(root, out, server, "-k", "2"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_done(out / "job.sqlite", 2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "run the same command again to resume" in stderr
    server.default = detections()
    rerun = grounding_cli(*label_args(root, out, server))
    assert rerun.returncode == 0, rerun.stderr
    assert len(per_image(server)) == 20 and sum(1 for n in per_image(server).values() if n > 1) <= 2


def test_unreadable_folders_are_reported_and_unreadable_files_recorded(server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    pictures(root, 1)
    (root / "locked").mkdir()
    picture(root / "locked" / "hidden.png", 5)
    picture(root / "secret.png", 6)
    (root / "locked").chmod(0)
    (root / "secret.png").chmod(0)
    server.default = detections()
    try:
        run = grounding_cli(*label_args(root, out, server), unprivileged=True)
    finally:
        (root / "locked").chmod(0o755)
    assert run.returncode == 0, run.stderr
    assert f"cannot read {root / 'locked'}: permission denied" in run.stderr
    with JobStore(out / "job.sqlite") as store:
        rows = {row.key: (row.status, row.error) for row in store.rows()}
    assert rows == {
        "p000.png": ("done", None),
        "secret.png": ("failed", "image: permission denied"),
    }


def test_request_options_and_the_pixel_limit_reach_the_job(server, tmp_path) -> None:
    root, out = tmp_path / "photos", tmp_path / "out"
    root.mkdir()
    picture(root / "small.png", 1, (40, 30))
    picture(root / "large.png", 2, (200, 200))
    server.default = detections()
    run = grounding_here(*label_args(root, out, server, "--temperature", "0.2", "--max-tokens", "321",
                                    "--max-image-mp", "0.005"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    (request,) = server.chat_requests
    assert request.body["temperature"] == 0.2 and request.body["max_tokens"] == 321
    with JobStore(out / "job.sqlite") as store:
        rows = {row.key: (row.status, row.error) for row in store.rows()}
    assert rows["small.png"] == ("done", None)
    assert rows["large.png"][0] == "failed" and "too large" in rows["large.png"][1]


def test_dry_run_needs_no_api_key(tmp_path) -> None:
    pictures(tmp_path / "photos", 3)
    run = grounding_here("label", str(tmp_path / "photos"), "--classes", "scratch", "--out", str(tmp_path / "o"),
                        "--provider", "zai", "--dry-run")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "images to label" in run.stdout and not (tmp_path / "o").exists()


def test_an_unreachable_endpoint_is_exit_2_as_in_locate(tmp_path) -> None:
    pictures(tmp_path / "photos", 1)
    run = grounding_here("label", str(tmp_path / "photos"), "--classes", "scratch", "--out", str(tmp_path / "o"),
                        "--base-url", "http://127.0.0.1:9/v1")  # fmt: skip
    assert run.returncode == 2 and "cannot reach" in run.stderr and "Traceback" not in run.stderr


def test_an_input_inside_out_is_refused(tmp_path) -> None:
    pictures(tmp_path / "labels" / "photos", 1)
    run = grounding_here("label", str(tmp_path / "labels" / "photos"), "--classes", "a", "--out",
                         str(tmp_path / "labels"), "--base-url", "http://127.0.0.1:9/v1")  # fmt: skip
    assert run.returncode == 2 and "is inside --out" in one_line_error(run.stderr)
