"""Model text that tries to break the parser: non-finite and huge numbers, warnings, budgets.

Each case is a fixture written for this test in a model's format, not model output.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import grounding
from grounding.parsing.structured import LITERAL_BUDGET

W, H = 1000, 500
BIG = "9" * 400  # an integer too big for a float
HUGE = "7" * 5000  # more digits than int() converts (4,300)


@pytest.mark.parametrize(
    ("model", "text", "kept"),
    [
        # JSON NaN coordinate (the case)
        ("glm-4.5v", '[{"bbox_2d":[NaN,10,500,500]}]', 0),
        # JSON Infinity and -Infinity
        ("glm-4.5v", '[{"bbox_2d":[Infinity,10,500,500]}, {"bbox_2d":[1,2,3,-Infinity]}]', 0),
        # JSON number too big for a float (json reads it as inf)
        ("glm-4.5v", '[{"bbox_2d":[1e400,10,500,500]}]', 0),
        # JSON integer of 400 digits (an int: float() of it overflows)
        ("glm-4.5v", '[{"bbox_2d":[' + BIG + ',10,500,500]}]', 0),
        # Python literal with a 400-digit integer (raised OverflowError)
        ("glm-4.5v", "[{'bbox_2d': (" + BIG + ", 10, 500, 500), 'label': 'a'}]", 0),
        # Python literal with a 400-digit integer in the fast path of an int box
        ("glm-4.5v", "{'bbox_2d': [1, 2, 3, " + BIG + "], 'label': 'a',}", 0),
        # Python literal, 5,000 digits (more than int() converts)
        ("glm-4.5v", "{'bbox_2d': [1, 2, 3, " + HUGE + "], 'label': 'a',}", 0),
        # named keys with a huge value and a NaN
        ("gemini-2.5-pro", '{"x": 1, "y": 2, "w": 1e400, "h": 3}', 0),
        ("moondream", '{"points": [{"x": NaN, "y": 0.5}]}', 0),
        # point key with an overflowing integer
        ("qwen2.5-vl", "{'point_2d': [" + BIG + ", 5]}", 0),
        # polygon key with an infinity
        ("glm-4.5v", '{"polygon": [[1,2],[3,Infinity],[5,6]]}', 0),
        # a loose bracket group with a 400-digit number
        ("glm-4.5v", "[[" + BIG + ",1,2,3]]", 0),
        # a loose group with a number past 1e9 (not a coordinate in any convention)
        ("glm-4.5v", "[[100000000000,1,2,3]]", 0),
        # Kosmos-2 patch index of thousands of digits (raised ValueError)
        ("kosmos-2", "<object><patch_index_" + HUGE + "><patch_index_0010></object>", 0),
        # Kosmos-2 patch index past the 32x32 grid
        ("kosmos-2", "<object><patch_index_5000><patch_index_0010></object>", 0),
        # GLM GUI action with a 400-digit number
        ("glm-4.5v", "left_click(start_box='[" + BIG + ", 3]')", 0),
        # the bad group goes, the good one stays
        ("glm-4.5v", '[{"bbox_2d":[NaN,10,500,500]}, {"bbox_2d":[100,200,300,400]}]', 1),
    ],
)
def test_non_finite_and_huge_numbers_are_dropped_with_a_warning(model: str, text: str, kept: int) -> None:
    result = grounding.parse(text, model=model, image_size=(W, H))
    coordinates = np.concatenate([result.boxes.ravel(), result.points.ravel(), *[p.ravel() for p in result.polygons]])
    assert np.isfinite(coordinates).all()
    assert len(result.boxes) + len(result.points) + len(result.polygons) == kept
    assert any(
        "NaN, an infinity or a number past" in w or "outside 0-1023" in w or "64 or more digits" in w for w in result.warnings
    ), result.warnings


@pytest.mark.parametrize(
    "text",
    [
        # "1and" in a Python literal: the compiler warns "invalid decimal literal"
        "{'bbox_2d': [1,2,3,4], 'label': 1and 2}",
        # "0x1for": "invalid hexadecimal literal"
        "[{'bbox_2d': [1,2,3,4], 'x': 0x1for}]",
    ],
)
def test_python_literal_repair_never_leaks_a_syntax_warning(text: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grounding.parse(text, model="glm-4.5v", image_size=(W, H))
    assert [str(w.message) for w in caught] == []


def test_python_literal_repair_is_capped_per_answer_with_a_warning() -> None:
    one = "{'bbox_2d': (%d, 10, %d, 90), 'label': 'a'} "
    n = LITERAL_BUDGET // len(one % (100, 200)) * 3  # three budgets' worth of literal objects
    text = "".join(one % (i % 900, i % 900 + 50) for i in range(n))
    result = grounding.parse(text, model="glm-4.5v", image_size=(W, H))
    assert 0 < len(result.boxes) < n
    assert any(f"past the first {LITERAL_BUDGET:,} characters" in w for w in result.warnings)


def test_the_literal_cap_is_shared_by_the_spans_of_one_answer() -> None:
    span = "<|begin_of_box|>{'bbox_2d': (%d, %d, %d, 990)}<|end_of_box|>"
    text = "".join(span % (i % 900, i // 900, i % 900 + 50) for i in range(LITERAL_BUDGET // 15))
    result = grounding.parse(text, model="glm-4.5v", image_size=(W, H))
    assert sum("Python-literal object(s)" in w for w in result.warnings) == 1


@pytest.mark.parametrize(
    ("box", "n"),
    [
        # the common literal form (lists): read exactly without ast.literal_eval, no cap
        (list, 4000),
        # tuples need ast.literal_eval: 400 objects fit the cap
        (tuple, 400),
    ],
)
def test_a_real_literal_answer_is_read_whole(box: type, n: int) -> None:
    text = repr([{"bbox_2d": box((i % 900, i // 900, i % 900 + 50, 990)), "label": "a"} for i in range(n)])
    result = grounding.parse(text, model="glm-4.5v", image_size=(W, H))
    assert len(result.boxes) == n and not math.isnan(result.boxes.sum()), result.warnings


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        # None/True/False inside a string stay text
        ("{'bbox_2d': [1, 2, 3, 4], 'label': 'None of True'}", ["None of True"]),
        # a parenthesised number is a number, not a tuple: read by ast.literal_eval
        ("{'x': (500), 'y': (250), 'label': 'p'}", None),
        # an escaped quote: read by ast.literal_eval
        ("{'bbox_2d': [1, 2, 3, 4], 'label': 'it\\'s'}", ["it's"]),
    ],
)
def test_python_literal_fast_reading_is_exact(text: str, labels: list | None) -> None:
    result = grounding.parse(text, model="glm-4.5v", image_size=(W, H))
    if labels is None:
        assert result.points.tolist() == [[500.0, 125.0]]
    else:
        assert result.labels == labels
