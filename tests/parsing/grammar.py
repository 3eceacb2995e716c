"""A generator of model answers built from each dialect's grammar, for property tests and fuzzing.

Free text almost never reaches the interesting paths of a parser, so answers are built from
the pieces each model family writes: its tokens and brackets, keys and labels, with numbers
drawn to include what breaks arithmetic (NaN, Infinity, 5,000-digit runs, negatives, zero
padding, full-width digits) and token runs of every length. ``answer(rng)`` takes any
``random.Random``: ``hypothesis.strategies.randoms()`` in the tests (so failures shrink), a
seeded one in ``python -m benchmarks.fuzz_parse``. The texts are generated fixtures, not model
output.

>>> import random
>>> model, text = answer(random.Random(3))
>>> isinstance(model, str) and isinstance(text, str)
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np

__all__ = ["MODELS", "answer", "violations"]

MODELS = [
    "glm-4.5v", "glm-4.6v", "qwen2.5-vl", "Qwen/Qwen3-VL-8B-Instruct", "gemini-2.5-flash",
    "paligemma", "florence-2", "kosmos-2", "molmo", "deepseek-vl2", "internvl3", "minicpm-v",
    "cogagent-9b", "moondream", "kimi-vl", "qwen-vl", "unknown-model",
]  # fmt: skip

_LABEL_CHARS = (
    "abcxyz ABC019_-.,;:!?'\"()[]{}<>/\\|#@&*=+~`$%^\t\n"
    "猫狗，：；（）［］０１２　éü😀\u200b\x00\x7f"
)
_SEPARATORS = [",", ", ", " ", ";", "，", "、", " , ", ",\n"]
_BRACKETS = [("[", "]"), ("(", ")"), ("{", "}"), ("<", ">"), ("［", "］"), ("（", "）")]
_JSON_BOX_KEYS = ["bbox_2d", "box_2d", "bbox", "box", "coordinates", "position", "Bbox_2D"]
_JSON_POINT_KEYS = ["point_2d", "point", "click_point", "coordinate"]
_JSON_POLYGON_KEYS = ["polygon", "points", "vertices"]
_NAMED = [("x_min", "y_min", "x_max", "y_max"), ("x1", "y1", "x2", "y2"), ("x", "y", "w", "h")]


def number(rng: random.Random, *, json_style: bool = False) -> str:
    """A number as a model might write it, including the ones that break arithmetic."""
    roll = rng.random()
    if roll < 0.55:
        return str(rng.randint(0, 1000))
    if roll < 0.62:
        return f"{rng.random():.{rng.randint(1, 4)}f}"
    if roll < 0.67:
        return str(rng.randint(-2000, -1))
    if roll < 0.71:
        return str(rng.randint(0, 999)).zfill(rng.randint(3, 6))
    if roll < 0.74:
        return f"{rng.uniform(0, 5000):.1f}"
    if roll < 0.80:
        return rng.choice(["NaN", "Infinity", "-Infinity", "nan", "inf", "1e400", "-1e400", "1e9"])
    if roll < 0.86:
        return rng.choice("123456789") + "".join(rng.choices("0123456789", k=rng.choice([20, 64, 400, 5000])))
    if roll < 0.90:
        return "".join(rng.choices("０１２３４５６７８９", k=rng.randint(1, 4)))
    if roll < 0.94:
        return rng.choice(["-0", ".5", "+3", "1.", "0x1f", "1_000", "1and", "3e"])
    return str(rng.randint(1001, 100_000))


def label(rng: random.Random) -> str:
    """A label with characters from every class (brackets, separators, tokens, CJK, controls)."""
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(["cat", "dog", "red car", "door handle", "the cup", "猫", "bolt #2 (left)"])
    if roll < 0.6:
        return rng.choice(["<loc0256>", "<loc_12>", "</s>", "<ref>", "<|box_start|>", "<point", ";", "'"])
    return "".join(rng.choices(_LABEL_CHARS, k=rng.choice([1, 3, 10, 40, 300])))


def _numbers(rng: random.Random, n: int, *, json_style: bool = False) -> list[str]:
    return [number(rng, json_style=json_style) for _ in range(n)]


def _count(rng: random.Random) -> int:
    return rng.choice([4, 4, 4, 2, 2, 6, 8, 8, 12, 1, 3, 5, 7, 13, 16, 0, rng.randint(0, 40)])


def _group(rng: random.Random, n: int | None = None) -> str:
    opened, closed = rng.choice(_BRACKETS)
    return opened + rng.choice(_SEPARATORS).join(_numbers(rng, _count(rng) if n is None else n)) + closed


def _glm(rng: random.Random) -> str:
    if rng.random() < 0.5:
        inner = "[" + ",".join(_group(rng) for _ in range(rng.randint(1, 4))) + "]"
    else:
        inner = _group(rng)
    if rng.random() < 0.7:
        inner = "<|begin_of_box|>" + inner + rng.choice(["<|end_of_box|>", "", "<|begin_of_box|>"])
    return inner


def _json_value(rng: random.Random) -> str:
    roll = rng.random()
    nums = _numbers(rng, _count(rng), json_style=True)
    if roll < 0.6:
        return "[" + ", ".join(nums) + rng.choice(["]", ",]", ""])
    if roll < 0.75:
        return "[" + ", ".join("[" + ", ".join(_numbers(rng, 2)) + "]" for _ in range(rng.randint(1, 5))) + "]"
    if roll < 0.85:
        return "(" + ", ".join(nums) + ")"
    return '"' + " ".join(nums) + '"'


def _json_object(rng: random.Random) -> str:
    quote = rng.choice(['"', '"', "'"])
    parts = []
    roll = rng.random()
    if roll < 0.6:
        parts.append(f"{quote}{rng.choice(_JSON_BOX_KEYS)}{quote}: {_json_value(rng)}")
    elif roll < 0.75:
        parts.append(f"{quote}{rng.choice(_JSON_POINT_KEYS)}{quote}: {_json_value(rng)}")
    elif roll < 0.85:
        parts.append(f"{quote}{rng.choice(_JSON_POLYGON_KEYS)}{quote}: {_json_value(rng)}")
    else:
        for key in rng.choice(_NAMED):
            parts.append(f"{quote}{key}{quote}: {number(rng, json_style=True)}")
    if rng.random() < 0.8:
        text = label(rng).replace("\\", "\\\\").replace(quote, "\\" + quote)
        parts.insert(rng.randint(0, len(parts)), f"{quote}label{quote}: {quote}{text}{quote}")
    if rng.random() < 0.1:
        parts.append(f"{quote}extra{quote}: {rng.choice(['None', 'True', 'null', '[]', '{}'])}")
    return "{" + ", ".join(parts) + rng.choice(["}", ",}", ""])


def _json(rng: random.Random) -> str:
    body = "[" + ",\n ".join(_json_object(rng) for _ in range(rng.randint(1, 6))) + rng.choice(["]", ""])
    if rng.random() < 0.3:
        body = '{"detections": ' + body + "}"
    if rng.random() < 0.4:
        body = rng.choice(["```json\n", "```JSON here\n", "```python\n"]) + body + rng.choice(["\n```", ""])
    return body


def _ref_box(rng: random.Random) -> str:
    ref_open, ref_close, box_open, box_close = rng.choice([
        ("<ref>", "</ref>", "<box>", "</box>"),
        ("<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>"),
        ("<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>"),
    ])  # fmt: skip
    out = []
    for _ in range(rng.randint(1, 3)):
        out.append(ref_open + label(rng) + rng.choice([ref_close, ""]))
        for _ in range(rng.randint(1, 2)):
            roll = rng.random()
            if roll < 0.4:
                content = "(" + ",".join(_numbers(rng, 2)) + "),(" + ",".join(_numbers(rng, 2)) + ")"
            elif roll < 0.7:
                content = "[" + ",".join(_group(rng) for _ in range(rng.randint(1, 3))) + "]"
            else:
                content = " ".join(_numbers(rng, _count(rng)))
            out.append(box_open + content + rng.choice([box_close, box_close, ""]))
    return "".join(out)


def _paligemma(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 4)):
        digits = rng.choice([4, 4, 4, 3, 5])
        run = rng.choice([4, 4, 4, 1, 3, 5, 8])
        out.append("".join(f"<loc{rng.randint(0, 10**digits - 1):0{digits}d}>" for _ in range(run)))
        if rng.random() < 0.2:
            out.append("".join(f"<seg{rng.randint(0, 127):03d}>" for _ in range(16)))
        out.append(" " + label(rng) + rng.choice([" ;", ";", "", " ; "]))
    return "".join(out)


def _florence(rng: random.Random) -> str:
    out = [rng.choice(["", "</s><s>", "<s>"])]
    for _ in range(rng.randint(1, 4)):
        out.append(rng.choice(["", label(rng), "<ground>" + label(rng) + "<obj>", label(rng) + "<poly>"]))
        for _ in range(rng.choice([1, 1, 2, 3])):
            run = rng.choice([4, 8, 12, 2, 6, 10, 13, 1, 3, 16, rng.randint(0, 60)])
            out.append("".join(f"<loc_{rng.choice([rng.randint(0, 999), rng.randint(0, 9999)])}>" for _ in range(run)))
            out.append(rng.choice(["", "", "<sep>", "</poly>"]))
    out.append(rng.choice(["</s>", "", "<pad>"]))
    return "".join(out)


def _kosmos(rng: random.Random) -> str:
    out = [rng.choice(["", "<grounding> An image of"])]
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.8:
            out.append("<phrase>" + label(rng).replace("<", "") + "</phrase>")
        indices = []
        for _ in range(rng.choice([2, 2, 4, 1, 3, 6])):
            digits = rng.choice([4, 4, 4, 5, 5000])
            indices.append(f"<patch_index_{rng.randint(0, 10**min(digits, 6) - 1):0{digits}d}>")
        joined = "".join(indices)
        if len(indices) >= 4 and rng.random() < 0.7:
            joined = "".join(indices[:2]) + "</delimiter_of_multi_objects/>" + "".join(indices[2:])
        out.append("<object>" + joined + rng.choice(["</object>", ""]))
    return "".join(out)


def _molmo(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return f'<point x="{number(rng)}" y="{number(rng)}" alt="{label(rng)}">{label(rng)}</point>'
    if roll < 0.7:
        n = rng.randint(1, 4)
        attrs = " ".join(f'x{i}="{number(rng)}" y{i}="{number(rng)}"' for i in range(1, n + 1))
        return f"<points {attrs}>{label(rng)}</points>"
    return f"Click({number(rng)}, {number(rng)})"


def _gui(rng: random.Random) -> str:
    action = rng.choice(["left_click", "right_click", "scroll", "drag"])
    box = "[" + ", ".join(_numbers(rng, rng.choice([2, 2, 4, 3]))) + "]"
    quote = rng.choice(["'", '"'])
    parts = [f"start_box={quote}{box}{quote}"]
    if rng.random() < 0.4:
        parts.append(f"end_box={quote}[{number(rng)}, {number(rng)}]{quote}")
    if rng.random() < 0.6:
        parts.insert(0, f"element_info={quote}{label(rng).replace(quote, '')}{quote}")
    return f"{action}({', '.join(parts)})"


_DIALECTS: list[Callable[[random.Random], str]] = [
    _glm, _json, _ref_box, _paligemma, _florence, _kosmos, _molmo, _gui,
]  # fmt: skip
_PROSE = ["", "The answer is ", "Sure! ", "\n", "坐标：", "[x1, y1, x2, y2] in [0,1000]: ", "Here: "]


def answer(rng: random.Random) -> tuple[str, str]:
    """A (model, text) pair: one to three dialect pieces in prose, sometimes cut short."""
    pieces = []
    if rng.random() < 0.15:
        pieces.append("<think>" + rng.choice(_DIALECTS)(rng) + rng.choice(["</think>", ""]))
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        pieces.append(rng.choice(_PROSE) + rng.choice(_DIALECTS)(rng))
    text = " ".join(pieces)
    if rng.random() < 0.1:
        text = text[: rng.randint(0, len(text))]
    if rng.random() < 0.05:
        text = "<answer>" + text
    return rng.choice(MODELS), text


def violations(result: object, size: tuple[int, int]) -> list[str]:
    """The parser's promises that ``result`` (a Grounding) breaks; empty when it keeps them all."""
    from grounding import Grounding

    assert isinstance(result, Grounding)
    w, h = size
    problems = []
    arrays = [result.boxes, result.points, *result.polygons]
    if not all(np.isfinite(a).all() for a in arrays):
        problems.append("non-finite coordinate")
    boxes = result.boxes
    if len(boxes) and not (
        ((boxes[:, [0, 2]] >= 0) & (boxes[:, [0, 2]] <= w)).all()
        and ((boxes[:, [1, 3]] >= 0) & (boxes[:, [1, 3]] <= h)).all()
    ):
        problems.append("box outside the image")
    if len(boxes) and not ((boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])).all():
        problems.append("box with unsorted or equal corners")
    for xy in [result.points, *result.polygons]:
        if len(xy) and not ((xy[:, 0] >= 0) & (xy[:, 0] <= w) & (xy[:, 1] >= 0) & (xy[:, 1] <= h)).all():
            problems.append("point outside the image")
    if len(result.labels) != len(boxes) or len(result.point_labels) != len(result.points):
        problems.append("labels do not line up")
    if not all(math.isfinite(v) for v in result.image_size):
        problems.append("image size not finite")
    return problems
