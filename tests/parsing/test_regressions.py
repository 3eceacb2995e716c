"""Every answer that once broke the parser (tests/data/parser-regressions.jsonl) keeps its promises.

The corpus holds failures found by ``python -m benchmarks.fuzz_parse`` and the cases of issue
10; ``before`` says what went wrong then. They are generated fixtures, not model output.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import grounding
from tests.parsing.grammar import violations

CASES = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "data" / "parser-regressions.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_past_failure_stays_fixed(case: dict) -> None:
    size = tuple(case["image_size"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = grounding.parse(case["text"], model=case["model"], image_size=size)
    assert violations(result, size) == [], case["before"]
    assert [str(w.message) for w in caught] == [], case["before"]
