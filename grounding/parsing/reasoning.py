"""Reasoning and answer: ``<think>…</think>``, ``<answer>…</answer>`` and GLM's box markers.

>>> split_reasoning("<think>maybe [[1,2,3,4]]</think>It is [[5,6,7,8]]").answer
'It is [[5,6,7,8]]'
>>> split_reasoning("<think>still thinking [[1,2,3,4]]").answer is None
True
>>> box_spans("a <|begin_of_box|>[1,2,3,4]<|end_of_box|> b", [])
['[1,2,3,4]']
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["BEGIN_OF_BOX", "END_OF_BOX", "Split", "box_spans", "split_reasoning"]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
BEGIN_OF_BOX, END_OF_BOX = "<|begin_of_box|>", "<|end_of_box|>"
_MARKER = re.compile(re.escape(BEGIN_OF_BOX) + "|" + re.escape(END_OF_BOX))


class Split(NamedTuple):
    """An answer (None when the text stopped inside the reasoning) and the reasoning."""

    answer: str | None
    reasoning: str


def split_reasoning(text: str) -> Split:
    """Separate the final answer from the reasoning (the drafts in it do not count).

    Text before the last ``</think>`` is reasoning; an ``<answer>`` tag (end tag optional)
    narrows the answer; a ``<think>`` that never closes means there is no answer.
    """
    close = text.rfind(THINK_CLOSE)
    reasoning, answer = (
        ("", text) if close < 0 else (text[:close], text[close + len(THINK_CLOSE) :])
    )
    opened = answer.find(THINK_OPEN)
    if opened >= 0:
        return Split(None, reasoning + answer[opened:])
    start = answer.find(ANSWER_OPEN)
    if start >= 0:
        end = answer.find(ANSWER_CLOSE, start)
        answer = answer[start + len(ANSWER_OPEN) : end if end >= 0 else None]
    if reasoning.startswith(THINK_OPEN):
        reasoning = reasoning[len(THINK_OPEN) :]
    return Split(answer, reasoning)


def box_spans(text: str, warnings: list[str]) -> list[str] | None:
    """The texts inside GLM's box markers, or None when there are no begin markers.

    An unmatched begin marker runs to the next begin marker or to the end of the text
    (generation stopped before the end marker).
    """
    if BEGIN_OF_BOX not in text:
        return None
    spans: list[str] = []
    open_at: int | None = None
    unmatched = 0
    for match in _MARKER.finditer(text):
        if match.group() == BEGIN_OF_BOX:
            if open_at is not None:
                spans.append(text[open_at : match.start()])
                unmatched += 1
            open_at = match.end()
        elif open_at is not None:
            spans.append(text[open_at : match.start()])
            open_at = None
    if open_at is not None:
        spans.append(text[open_at:])
        unmatched += 1
    if unmatched:
        warnings.append(f"{unmatched} box marker(s) had no end marker; read to the next marker")
    return spans
