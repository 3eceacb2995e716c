"""Properties that hold for any text: parse never raises, stays in the image, ignores prose."""

from __future__ import annotations

import string
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

import grounding
from tests.parsing.grammar import answer, violations

MODELS = ["glm-4.5v", "qwen2.5-vl", "gemini-2.5-flash", "paligemma", "florence-2", "kosmos-2",
          "molmo", "deepseek-vl2", "internvl3", "moondream", "kimi-vl", "unknown-model"]  # fmt: skip

# Fragments of every grammar, so random text hits the parsers' interesting paths.
FRAGMENTS = st.sampled_from([
    "<|begin_of_box|>", "<|end_of_box|>", "<think>", "</think>", "<answer>", "</answer>",
    "[[", "]]", "[", "]", "(", ")", "{", "}", "<", ">", ",", ";", " ", "，", "０", "-", ".",
    '"bbox_2d": ', '"label": "a"', '"box_2d"', "'point'", "<ref>", "</ref>", "<box>", "</box>",
    "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<loc0256>", "<loc_500>", "<seg001>",
    "<phrase>", "</phrase>", "<object>", "</object>", "<patch_index_0044>",
    '<point x="50" y="150">', "</point>", "Click(", "left_click(start_box='[", "']",
    "element_info='", "1000", "999", "0.5", "12", "-3", "1e9", "nan", "1" * 40,
])  # fmt: skip
MODEL_TEXT = st.lists(st.one_of(FRAGMENTS, st.integers(-2000, 5000).map(str)), max_size=40).map(
    "".join
)
ANY_TEXT = st.one_of(st.text(max_size=300), MODEL_TEXT)
SIZES = st.tuples(st.integers(1, 8000), st.integers(1, 8000))


@settings(max_examples=400, deadline=None)
@given(text=ANY_TEXT, model=st.sampled_from(MODELS), size=SIZES)
def test_never_raises_and_stays_inside_the_image(text: str, model: str, size: tuple) -> None:
    result = grounding.parse(text, model=model, image_size=size)
    w, h = size
    assert ((result.boxes[:, [0, 2]] >= 0) & (result.boxes[:, [0, 2]] <= w)).all()
    assert ((result.boxes[:, [1, 3]] >= 0) & (result.boxes[:, [1, 3]] <= h)).all()
    assert (result.boxes[:, 0] < result.boxes[:, 2]).all()
    assert (result.boxes[:, 1] < result.boxes[:, 3]).all()
    for xy in [result.points, *result.polygons]:
        assert ((xy[:, 0] >= 0) & (xy[:, 0] <= w) & (xy[:, 1] >= 0) & (xy[:, 1] <= h)).all()
    assert len(result.labels) == len(result.boxes)
    assert grounding.Grounding.from_dict(result.to_dict()) == result


PROSE = st.text(alphabet=string.ascii_letters + " .!?'", max_size=80)
ANSWERS = st.sampled_from([
    "<|begin_of_box|>[[94,598,177,991]]<|end_of_box|>",
    '[{"label": "cat", "bbox_2d": [10, 20, 110, 120]}]',
    "left_click(start_box='[586, 446]', element_info='OK')",
    "<ref>book</ref><box>120 340 560 780</box>",
    "[[100,100],[200,100],[220,180],[100,200]]",
])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(before=PROSE, answer=ANSWERS, after=PROSE)
def test_surrounding_prose_changes_nothing(before: str, answer: str, after: str) -> None:
    alone = grounding.parse(answer, model="glm-4.5v", image_size=(640, 480))
    wrapped = grounding.parse(f"{before} {answer} {after}", model="glm-4.5v", image_size=(640, 480))
    assert wrapped == alone


# Grammar-built answers (tests/parsing/grammar.py): every dialect's tokens and brackets, with
# NaN, Infinity, 5,000-digit runs and token runs of every length. The same generator runs a
# million inputs in ``python -m benchmarks.fuzz_parse``.
@settings(max_examples=200, deadline=None)
@given(rng=st.randoms(use_true_random=False), size=SIZES)
def test_grammar_built_answers_keep_every_promise(rng, size: tuple) -> None:
    model, text = answer(rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = grounding.parse(text, model=model, image_size=size)
    assert violations(result, size) == []
    assert [str(w.message) for w in caught] == []
    assert grounding.Grounding.from_dict(result.to_dict()) == result
