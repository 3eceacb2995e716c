"""Scores from token log-probabilities: how sure the model was while it wrote each shape.

Servers that return ``logprobs`` (vLLM, SGLang, OpenAI) give one log-probability per
generated token. A shape's tokens run from the first token after the previous shape was
complete (for the first shape, the first token holding a bracket, a marker or a digit) to the
token that completed it; which token completes a shape is found by parsing growing prefixes of
the answer with the same parser, so it works for every box dialect. Its score is the geometric
mean of the probabilities of the tokens among those that wrote its numbers or its label, and
of the first one, which decided to start the shape at all (where an extra box shows its
doubt). Tokens of syntax and key names (``{"bbox_2d": [``) are left out: nearly certain, they
would only dilute the score.

>>> from grounding.parsing import parse
>>> tokens = [("[[", -0.01), ("10", -0.1), (",", 0.0), ("10", -0.1), (",", 0.0), ("50", -0.2),
...           (",", 0.0), ("50", -0.1), ("]]", -0.01)]
>>> def read(text):
...     return parse(text, image_size=(1000, 1000))
>>> g = score_shapes(read("".join(t for t, _ in tokens)), tokens, read)
>>> round(float(g.confidence[0]), 3)
0.903
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from grounding.result import FloatArray, Grounding

__all__ = ["TokenLogprob", "score_shapes"]

TokenLogprob = tuple[str, float]
_OPENERS = frozenset("[{(<0123456789")
# a shape is complete only at one of these (or at the end): growing prefixes are parsed there
# alone, not at every digit, which halves the parsing
_ENDS = frozenset("]})>\"';,\n")
_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:\.\d+)?")


def _written(span: Sequence[TokenLogprob], label: str | None) -> list[float]:
    """The logprobs of the span's first token and of those that wrote a number or the label."""
    text = "".join(t for t, _ in span)
    ranges = [m.span() for m in _NUMBER.finditer(text)]
    if label:
        at = text.rfind(label)
        if at >= 0:
            ranges.append((at, at + len(label)))
    kept, position = [], 0
    for index, (token, logprob) in enumerate(span):
        end = position + len(token)
        if index == 0 or any(a < end and position < b for a, b in ranges):
            kept.append(logprob)
        position = end
    return [lp for lp in kept if math.isfinite(lp)]


def _shapes(g: Grounding) -> list[tuple[str, int, FloatArray, str | None]]:
    out: list[tuple[str, int, FloatArray, str | None]] = []
    out += [("box", i, b, lab) for i, (b, lab) in enumerate(zip(g.boxes, g.labels, strict=True))]
    out += [
        ("point", i, p, lab)
        for i, (p, lab) in enumerate(zip(g.points, g.point_labels, strict=True))
    ]
    out += [
        ("polygon", i, p, lab)
        for i, (p, lab) in enumerate(zip(g.polygons, g.polygon_labels, strict=True))
    ]
    return out


def _same(a: FloatArray, b: FloatArray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-6))


def _content_tokens(text: str, tokens: Sequence[TokenLogprob]) -> list[TokenLogprob] | None:
    """The tokens that wrote ``text``: all of them, or the tail after a reasoning part."""
    joined = "".join(t for t, _ in tokens)
    if joined == text:
        return list(tokens)
    if not joined.endswith(text):
        return None
    skip, kept = len(joined) - len(text), []
    position = 0
    for token, logprob in tokens:
        position += len(token)
        if position > skip:
            kept.append((token, logprob))
    return kept if "".join(t for t, _ in kept).endswith(text) else None


def score_shapes(
    result: Grounding,
    tokens: Sequence[TokenLogprob],
    reparse: Callable[[str], Grounding],
    text: str | None = None,
) -> Grounding:
    """``result`` (the parse of the whole answer) with a confidence for every shape.

    ``tokens`` are (text, log-probability) pairs in the order generated; ``reparse`` parses a
    prefix of the answer exactly as ``result`` was parsed; ``text`` is the answer (by default
    the result's response content, else the tokens joined). Where the tokens do not spell the
    answer (a server that returns logprobs for something else) the scores stay NaN and a
    warning says why.
    """
    if text is None and result.response is not None:
        text = result.response.answer()[0]
    if text is None:
        text = "".join(t for t, _ in tokens)
    shapes = _shapes(result)
    content = _content_tokens(text, tokens)
    if content is None:
        result.warnings.append("the token log-probabilities do not spell the answer: no scores")
        return result
    if not shapes:
        return result

    done: dict[tuple[str, int], int] = {}
    prefix = ""
    for index, (token, _) in enumerate(content):
        prefix += token
        last = index == len(content) - 1
        if not last and not (_ENDS & set(token)):
            continue
        partial = _shapes(reparse(prefix))
        for kind, i, shape, label in shapes:
            if (kind, i) in done:
                continue
            match = [s for k, j, s, lab in partial if k == kind and j == i and lab == label]
            if match and _same(match[0], shape):
                done[(kind, i)] = index
        if len(done) == len(shapes):
            break

    first = next((i for i, (t, _) in enumerate(content) if _OPENERS & set(t)), 0)
    ends = sorted(set(done.values()))
    scores: dict[str, FloatArray] = {
        "box": np.full(len(result.boxes), np.nan),
        "point": np.full(len(result.points), np.nan),
        "polygon": np.full(len(result.polygons), np.nan),
    }
    labels = {"box": result.labels, "point": result.point_labels, "polygon": result.polygon_labels}
    for (kind, i), end in done.items():
        earlier = [e for e in ends if e < end]
        start = earlier[-1] + 1 if earlier else first
        span = _written(content[start : end + 1], labels[kind][i])
        if span:
            scores[kind][i] = math.exp(sum(span) / len(span))
    result.confidence = scores["box"]
    result.point_confidence = scores["point"]
    result.polygon_confidence = scores["polygon"]
    if len(done) < len(shapes):
        result.warnings.append(
            f"{len(shapes) - len(done)} shapes could not be traced to their tokens: no score"
        )
    return result
