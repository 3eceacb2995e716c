from __future__ import annotations

import pytest

from grounding.labeling import (
    ClassMatcher,
    Item,
    JobLock,
    JobLockedError,
    JobStore,
    LockError,
    StoreError,
    file_problem,
    find_images,
    in_shard,
    key_problem,
    parse_shard,
    register,
)
from grounding.labeling.cost import Price, estimate_tokens, image_tokens
from grounding.profiles import get_profile


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("scratch", "scratch"),
        ("Scratch", "scratch"),  # case
        ("scratch-2", "scratch"),  # GLM numbering
        ("scratch #3", "scratch"),
        ("scratches", "scratch"),  # plural -es
        ("dents", "dent"),  # plural -s
        ("cracks", "crack"),
        ("scrach", "scratch"),  # small misspelling
        ("rust", None),  # not asked for
        ("", None),  # empty, several classes
        (None, None),
    ],
)
def test_class_matcher(label, expected) -> None:
    assert ClassMatcher(["scratch", "dent", "crack"])(label) == expected


def test_one_class_takes_unlabelled_boxes() -> None:
    match = ClassMatcher(["defect"])
    assert match(None) == "defect" and match("") == "defect" and match("battery") is None


def test_plural_classes_match_singular_labels() -> None:
    assert ClassMatcher(["batteries"])("battery-1") == "batteries"


def test_find_images_folders_globs_and_lists(tmp_path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.JPG", "a/b/2.jpeg", "a/b/3.PnG", "a/4.webp", "a/5.tif", "a/6.TIFF", "a/7.bmp", "a/8.txt", "a/b/9.gif"):
        (tmp_path / name).write_bytes(b"x")
    keys = [i.key for i in find_images([str(tmp_path / "a")])]
    assert keys == ["1.JPG", "4.webp", "5.tif", "6.TIFF", "7.bmp", "b/2.jpeg", "b/3.PnG"]
    globbed = [i.key for i in find_images([str(tmp_path / "a" / "**" / "*.*")])]
    assert set(globbed) == set(keys)
    listing = tmp_path / "list.txt"
    listing.write_text("# photos\na/1.JPG\nhttps://example.org/x.jpg\n\n")
    items = list(find_images([str(listing)]))
    assert [(i.key, i.source.endswith("1.JPG")) for i in items] == [("a/1.JPG", True), ("https://example.org/x.jpg", False)]
    with pytest.raises(FileNotFoundError, match="nope"):
        list(find_images([str(tmp_path / "nope")]))


def test_shards_partition_and_are_stable() -> None:
    keys = [f"dir/{i}.jpg" for i in range(1000)]
    parts = [[k for k in keys if in_shard(k, (s, 3))] for s in (1, 2, 3)]
    assert sorted(k for part in parts for k in part) == sorted(keys)
    assert all(250 < len(p) < 420 for p in parts)
    assert in_shard("dir/7.jpg", (1, 3)) == in_shard("dir/7.jpg", parse_shard("1/3"))
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_store_resume_semantics(tmp_path) -> None:
    store = JobStore(tmp_path / "job.sqlite")
    items = [Item(f"{i:04d}.jpg", f"/x/{i:04d}.jpg", "/x") for i in range(1200)]
    assert store.add(items, batch=500) == 1200
    assert store.add(items) == 0  # known images are left alone
    store.finish("0001.jpg", status="done", result={"boxes": []}, usage={"prompt_tokens": 10, "completion_tokens": 2}, size=(64, 48))
    store.finish("0002.jpg", status="failed", error="image: empty file")
    assert store.counts() == {"pending": 1198, "done": 1, "failed": 1}
    assert len(list(store.rows("pending", page=100))) == 1198
    (row,) = store.rows("done")
    assert (row.width, row.height, row.attempts, row.result) == (64, 48, 1, {"boxes": []})
    assert store.usage_totals() == (10, 2)
    store.close()
    assert JobStore(tmp_path / "job.sqlite").counts()["done"] == 1  # it persisted


def test_cost_estimates() -> None:
    assert image_tokens(1920, 1080) == (1092 // 28) * (1932 // 28)
    prompt, completion = estimate_tokens(4000, 3000, "x" * 400, get_profile("glm-4.5v"), 150)
    assert 7000 < prompt < 7700 and completion == 150  # capped at ~5.9 MP: ~7,500 image tokens
    assert Price(0.6, 1.8).cost(1_000_000, 1_000_000) == pytest.approx(2.4)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("a/b.jpg", None),  # a plain relative path
        ("caf%E9.png", None),  # an escaped non-UTF-8 name
        ("https://example.org/../x.jpg", None),  # URLs name images, never output paths
        ("../victim/evil.png", "has a '..' that would leave the output folder"),
        ("a/../../evil.png", "has a '..' that would leave the output folder"),
        ("a\\..\\..\\evil.png", "has a '..' that would leave the output folder"),  # Windows separators
        ("/etc/evil.png", "is absolute"),
        ("C:/evil.png", "is absolute"),
        ("a//b.png", "has an empty or '.' part"),
        ("./b.png", "has an empty or '.' part"),
        ("", "is empty"),
        ("a\x00.png", "contains NUL"),
    ],
)
def test_key_problem(key, problem) -> None:
    assert key_problem(key) == problem


def test_file_problem_tells_what_a_path_is(tmp_path) -> None:
    import os

    (tmp_path / "ok.png").write_bytes(b"x")
    (tmp_path / "loop.png").symlink_to("loop.png")
    (tmp_path / "broken.png").symlink_to("missing.png")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "dir.png").mkdir()
    assert file_problem(str(tmp_path / "ok.png")) is None
    assert file_problem(str(tmp_path / "loop.png")) == "symbolic link loop"
    assert file_problem(str(tmp_path / "broken.png")) == "broken symbolic link"
    assert file_problem(str(tmp_path / "pipe.png")) == "not a regular file: a FIFO (named pipe)"
    assert file_problem(str(tmp_path / "dir.png")) == "is a folder, not an image"
    assert file_problem(str(tmp_path / "none.png")) == "no such file"


def test_find_images_keys_sources_and_the_excluded_folder(tmp_path, monkeypatch) -> None:
    import os

    for camera in ("cam1", "cam2"):
        (tmp_path / camera).mkdir()
        (tmp_path / camera / "x.jpg").write_bytes(b"x")
    (tmp_path / "cam1" / "out").mkdir()
    (tmp_path / "cam1" / "out" / "copy.jpg").write_bytes(b"x")
    (tmp_path / "cam2" / os.fsdecode(b"\xff.png")).write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    items = list(find_images(["cam1", "cam2"], exclude="cam1/out"))
    assert [i.key for i in items] == ["cam1/x.jpg", "cam2/x.jpg", "cam2/%FF.png"]
    assert all(os.path.isabs(i.source) for i in items)
    assert items[2].source.endswith(os.fsdecode(b"\xff.png"))  # the real name, to open it


def test_store_numbers_a_taken_key_and_keeps_one_row_per_file(tmp_path) -> None:
    for folder in "abce":
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.jpg").write_bytes(b"x")
    a, b, c, e = (str(tmp_path / folder / "x.jpg") for folder in "abce")
    store = JobStore(tmp_path / "job.sqlite")
    assert store.add([Item("x.jpg", a, "/a"), Item("x.jpg", b, "/b"),
                      Item("y.jpg", a, "/a"), Item("d/x.tar.jpg", c, "/c"),
                      Item("d/x.tar.jpg", e, "/e")]) == 4  # fmt: skip
    assert {r.key: r.source for r in store.rows()} == {"x.jpg": a, "x~2.jpg": b, "d/x.tar.jpg": c, "d/x.tar~2.jpg": e}
    with pytest.raises(ValueError, match="leave the output folder"):
        store.add([Item("../x.jpg", "/f/x.jpg", "/f")])
    store.close()


def test_a_moved_folder_resumes_under_the_same_keys(tmp_path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x.jpg").write_bytes(b"x")
    with JobStore(tmp_path / "job.sqlite") as store:
        register(store, find_images([str(tmp_path / "old")]), None)
        store.finish("x.jpg", status="done", result={"boxes": []})
        (tmp_path / "old").rename(tmp_path / "new")
        assert register(store, find_images([str(tmp_path / "new")]), None) == 0
        ((row),) = store.rows()
    assert (row.key, row.status, row.source) == ("x.jpg", "done", str(tmp_path / "new" / "x.jpg"))


def test_store_refuses_an_unsafe_key_on_read(tmp_path) -> None:
    import sqlite3

    with JobStore(tmp_path / "job.sqlite") as store:
        store.add([Item("x.jpg", "/a/x.jpg", "/a")])
    with sqlite3.connect(tmp_path / "job.sqlite") as db:
        db.execute("UPDATE images SET key = '/etc/cron.d/evil.jpg'")
    with JobStore(tmp_path / "job.sqlite") as store, pytest.raises(StoreError, match="refusing the image key"):
        list(store.rows())


def test_job_lock_one_holder_at_a_time(tmp_path) -> None:
    import os

    with JobLock(tmp_path, "label"), pytest.raises(JobLockedError, match=f"pid {os.getpid()}"):
        JobLock(tmp_path, "export").acquire()
    with JobLock(tmp_path, "export"):  # released: the next one gets it
        pass
    with pytest.raises(LockError, match="cannot write in"):
        JobLock(tmp_path / "missing", "label").acquire()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a path's '..' is shown as it is (a refused key must be named truly)
        ("key '../../victim/evil.png' refused", "key '../../victim/evil.png' refused"),
        ("cannot read /a/.. now", "cannot read /a/.. now"),
        # a doubled full stop still becomes one
        ("is the disk full.. Rerun", "is the disk full. Rerun"),
        ("stopped..", "stopped."),
    ],
)
def test_one_line_keeps_paths(text, expected) -> None:
    from grounding.cli.exits import one_line

    assert one_line(text) == expected
