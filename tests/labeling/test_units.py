from __future__ import annotations

import pytest

from grounding.labeling import (
    ClassMatcher,
    Item,
    JobStore,
    find_images,
    in_shard,
    parse_shard,
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
