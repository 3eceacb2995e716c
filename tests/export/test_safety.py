"""Issue 9 in the exports: a full disk never damages the last export, a key that would land
outside the export folder is refused, two exports into one folder both finish."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grounding.export import ExportError, export_job
from grounding.labeling import Item, JobStore
from grounding.labeling.store import StoreError
from tests.export.conftest import CLASSES, TRICKY

ALL = ["coco", "yolo", "yolo-seg", "voc", "cvat", "labelstudio"]


def snapshot(out: Path) -> dict[str, str]:
    """Every exported file (not the job store) and a hash of its bytes (links: their target)."""
    files = {}
    for path in sorted(out.rglob("*")):
        if path.name.startswith("job.sqlite") or path.is_dir():
            continue
        data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        files[str(path.relative_to(out))] = hashlib.sha256(data).hexdigest()
    return files


def run_export(out: Path, *extra: str, limit: int | None = None, formats: list[str] = ALL) -> subprocess.CompletedProcess:
    """``export_job`` in a child process, optionally with a file-size limit (a full disk)."""
    code = (
        "import resource, signal, sys\n"
        "from grounding.export import export_job\n"
        "from grounding.labeling import JobStore\n"
        f"store = JobStore({str(out / 'job.sqlite')!r})\n"
        f"limit = {limit!r}\n"
        "if limit:\n"
        "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG\n"
        "    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
        f"export_job([store], {str(out)!r}, classes={CLASSES!r}, formats={formats!r}, {', '.join(extra)})\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_a_full_disk_never_damages_the_previous_export(tricky) -> None:
    root, out = tricky
    (root / "bulk").mkdir()
    for n in range(200):  # one file per row: the store holds one row per file
        os.link(root / "empty.png", root / "bulk" / f"{n:03d}.png")
    with JobStore(out / "job.sqlite") as store:  # enough rows that tasks.json outgrows the limit
        store.add([Item(f"bulk/{n:03d}.png", str(root / "bulk" / f"{n:03d}.png"), str(root)) for n in range(200)])
        for n in range(200):
            store.finish(f"bulk/{n:03d}.png", status="done", size=(64, 48),
                         result={"boxes": [{"xyxy": [1, 2, 30, 40], "label": "dent"}]})  # fmt: skip
    formats = ["coco", "voc", "labelstudio"]
    assert run_export(out, formats=formats).returncode == 0
    before = snapshot(out)
    assert any(k.startswith("coco/annotations/") for k in before) and len(before) > 600
    # another split, so that a partial write would show
    full = run_export(out, "val=0.5", limit=40_000, formats=formats)
    assert full.returncode != 0 and "File too large" in full.stderr
    assert snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert run_export(out, "val=0.5", formats=formats).returncode == 0 and snapshot(out) != before


def crafted_shard(tmp_path: Path, key: str) -> JobStore:
    """A shard store holding a done row under ``key``, written past the store's own refusal
    (as a hand-made or hostile file would be)."""
    shard = JobStore(tmp_path / "shard.sqlite")
    safe = "placeholder.png"
    shard.add([Item(safe, str(tmp_path / "photos" / TRICKY[0].key), str(tmp_path / "photos"))])
    shard.finish(safe, status="done", size=(64, 48), result={"boxes": [{"xyxy": [1, 1, 9, 9], "label": "dent"}]})
    shard.close()
    with sqlite3.connect(tmp_path / "shard.sqlite") as conn:
        conn.execute("UPDATE images SET key = ? WHERE key = ?", (key, safe))
    return JobStore(tmp_path / "shard.sqlite")


@pytest.mark.parametrize(
    "key",
    [
        "../../victim/evil.png",  # climbs out of the export folder
        "a/../../evil.png",  # climbs out from inside
        "..\\..\\victim\\evil.png",  # the same with Windows separators
    ],
)
def test_a_key_that_would_resolve_outside_is_refused(tricky, tmp_path, key: str) -> None:
    _, out = tricky
    export_job([JobStore(out / "job.sqlite")], out, classes=CLASSES, formats=ALL)
    before = snapshot(out)
    shard = crafted_shard(tmp_path, key)  # a merged shard store with a crafted row
    with pytest.raises((ExportError, StoreError), match=r"would (resolve outside the export|leave the output) folder") as caught:
        export_job([JobStore(out / "job.sqlite"), shard], out, classes=CLASSES, formats=ALL)
    assert repr(key)[1:-1] in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "victim").exists() and not (tmp_path.parent / "victim").exists()
    assert snapshot(out) == before


def test_the_cli_refuses_it_with_one_line(tricky, tmp_path) -> None:
    _, out = tricky
    crafted_shard(tmp_path, "../../victim/evil.png").close()
    run = subprocess.run([sys.executable, "-m", "grounding", "export", str(out), "--store", str(tmp_path / "shard.sqlite"),
                          "-f", "coco,yolo"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "../../victim/evil.png" in lines[0] and "Traceback" not in run.stderr


def test_two_exports_into_one_folder_both_finish(tricky) -> None:
    _, out = tricky
    code = (
        "from grounding.export import export_job\n"
        "from grounding.labeling import JobStore\n"
        f"store = JobStore({str(out / 'job.sqlite')!r})\n"
        "for n in range(3):\n"
        f"    export_job([store], {str(out)!r}, classes={CLASSES!r}, formats={ALL!r}, val=0.3)\n"
    )
    runs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    # one complete export in place, nothing set aside or staged left behind
    assert len(list((out / "voc" / "Annotations").iterdir())) == len(TRICKY)
    assert len([p for p in (out / "cvat" / "images").iterdir()]) == len(TRICKY)
    assert not [p for p in out.rglob(".*") if not p.name.startswith("job.sqlite")]


def test_a_dead_exports_leftovers_are_cleaned_or_put_back(tricky) -> None:
    _, out = tricky
    export_job([JobStore(out / "job.sqlite")], out, classes=CLASSES, formats=["coco", "voc"])
    dead = 2**22 + 12345  # above the default pid_max: no such process
    (out / f".export-{dead}-00000000" / "coco").mkdir(parents=True)  # killed while staging
    os.rename(out / "voc", out / f".voc.old-{dead}-00000000")  # killed mid-swap: voc set aside
    export_job([JobStore(out / "job.sqlite")], out, classes=CLASSES, formats=["coco"])
    assert (out / "voc" / "labelmap.txt").exists()  # the set-aside export was put back
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
