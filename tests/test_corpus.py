"""The shared corpus of real and edge-case model outputs: every line must pass."""

from __future__ import annotations

import json

import pytest

import grounding
from tests.conftest import DATA, SHARED, assert_close

CORPUS = DATA / "parse-cases.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def test_corpus_copy_matches_shared() -> None:
    shared = SHARED / "corpus" / "parse-cases.jsonl"
    if not shared.exists():
        pytest.skip("../shared is not beside this clone")
    assert CORPUS.read_bytes() == shared.read_bytes(), (
        f"{CORPUS} drifted from {shared}: copy it again (cp {shared} {CORPUS})"
    )


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case: dict) -> None:
    input_size = tuple(case["input_size"]) if case.get("input_size") else None
    result = grounding.parse(
        case["text"],
        model=case["model"],
        image_size=tuple(case["image_size"]),
        input_size=input_size,
    )
    expect = case["expect"]
    assert_close(result.boxes, expect["boxes"], 4)
    assert_close(result.points, expect["points"], 2)
    assert len(result.polygons) == len(expect["polygons"])
    for polygon, want in zip(result.polygons, expect["polygons"], strict=True):
        assert_close(polygon, want, 2)
    if "labels" in expect:
        assert result.labels == expect["labels"]
    if "point_labels" in expect:
        assert result.point_labels == expect["point_labels"]
    if "warning" in case.get("note", ""):
        assert result.warnings, "the corpus note expects a warning"
