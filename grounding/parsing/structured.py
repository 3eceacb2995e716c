"""Structured answers: JSON objects and Python dict literals holding boxes, points or polygons.

Only innermost ``{…}`` objects are decoded (those are the ones that carry a box), which
makes wrapper objects (``{"detections": [...]}``), cut-off lists and prose around the JSON
irrelevant, and keeps the scan linear. Each object is read with ``json``, then ``json`` after
light repairs, then ``ast.literal_eval``; nothing is ever executed.

>>> text = '```json\\n[{"label": "dent", "bbox_2d": [100, 200, 300, 400]},\\n {"label": "cr'
>>> [(s.kind, s.values, s.label) for s in structured_shapes(text, [])]
[('box', (100.0, 200.0, 300.0, 400.0), 'dent')]
"""

from __future__ import annotations

import ast
import json
import re
import warnings as _warnings
from collections.abc import Iterator
from typing import Any

from grounding.parsing.groups import numbers_in
from grounding.parsing.shapes import MAX_SHAPES, Shape, as_float, shapes_from_numbers

__all__ = [
    "LiteralBudget",
    "decode_object",
    "literal_budget_warning",
    "literal_eval",
    "structured_shapes",
]

_OBJECT = re.compile(r"\{[^{}]*\}")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_LEADING_ZEROS = re.compile(r"(?<![\w.])0+(?=\d)")
_LITERAL_LIMIT = 20_000  # ast.literal_eval is kept to objects of a sane size
_SINGLE_QUOTED = re.compile(r"('[^'\"\\]*')")
_PYTHON_CONSTANT = re.compile(r"\b(?:None|True|False)\b")
_JSON_CONSTANT = {"None": "null", "True": "true", "False": "false"}
_LENIENT_JSON = json.JSONDecoder(strict=False)  # Python strings may hold a raw tab
# The characters one answer may send through ast.literal_eval (~50x slower than json; the
# common literal form is read exactly without it): ~450 tuple-holding objects fit, and the
# worst answer stays under 100 ms (1 MB of such objects took 1-1.4 s without the cap).
LITERAL_BUDGET = 20_000

BOX_KEYS = ("bbox_2d", "box_2d", "bbox", "box", "bounding_box", "coordinates", "position")
POINT_KEYS = ("point_2d", "point", "click_point", "coordinate")
POLYGON_KEYS = ("polygon", "points", "vertices")
LABEL_KEYS = ("label", "class_name", "class", "name", "category", "description")
_NAMED_BOXES = (
    ("x_min", "y_min", "x_max", "y_max"),
    ("xmin", "ymin", "xmax", "ymax"),
    ("x1", "y1", "x2", "y2"),
    ("left", "top", "right", "bottom"),
)


class LiteralBudget:
    """What is left of one answer's :data:`LITERAL_BUDGET`, and how much was refused."""

    __slots__ = ("left", "refused")

    def __init__(self, left: int = LITERAL_BUDGET) -> None:
        self.left = left
        self.refused = 0


def literal_eval(text: str) -> Any:
    """``ast.literal_eval`` that never raises and never warns; None when ``text`` is no literal.

    The compiler's ``SyntaxWarning``s (``invalid decimal literal`` for ``1a``) are about
    model text, not about this program, so they are silenced here.
    """
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def literal_budget_warning(budget: LiteralBudget) -> str:
    """The one warning line for the literal objects ``budget`` refused."""
    return (
        f"skipped {budget.refused} Python-literal object(s) past the first "
        f"{LITERAL_BUDGET:,} characters of literals (the cap that keeps parsing fast)"
    )


def _simple_literal_as_json(text: str) -> Any:
    """A Python dict literal as JSON when that reading is exact; None otherwise.

    Exact for the common form ``{'bbox_2d': [1, 2, 3, 4], 'label': 'cat'}``: single-quoted
    strings without backslashes or double quotes, no parentheses (``(5)`` is 5, not a
    tuple), ``None``/``True``/``False`` outside the strings. About 20x faster than
    ``ast.literal_eval``, so it needs no budget.

    >>> _simple_literal_as_json("{'label': 'it is None', 'ok': True, 'x': None}")
    {'label': 'it is None', 'ok': True, 'x': None}
    """
    if "(" in text or "\\" in text:
        return None
    parts = _SINGLE_QUOTED.split(text)
    if "None" in text or "True" in text or "False" in text:
        for i in range(0, len(parts), 2):  # outside the strings
            parts[i] = _PYTHON_CONSTANT.sub(lambda m: _JSON_CONSTANT[m.group()], parts[i])
    for i in range(1, len(parts), 2):  # 'text' -> "text" (no " and no \ inside)
        parts[i] = '"' + parts[i][1:-1] + '"'
    try:
        return _LENIENT_JSON.decode("".join(parts))
    except (ValueError, RecursionError):
        return None


def decode_object(text: str, budget: LiteralBudget | None = None) -> Any:
    """Decode one JSON object or Python dict literal; None when it is neither.

    ``budget`` caps the characters sent to ``ast.literal_eval`` over one answer.
    """
    json_like = '"' in text  # a JSON object with a key has a double quote
    if json_like:
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            pass
    elif budget is not None and budget.left < len(text) // 2 and "(" in text:
        budget.refused += 1  # only the slow reading is left: skip the repairs too
        return None
    repaired = _LEADING_ZEROS.sub("", _TRAILING_COMMA.sub(r"\1", text))
    if json_like:
        try:
            return json.loads(repaired)
        except (ValueError, RecursionError):
            pass
    else:
        simple = _simple_literal_as_json(repaired)
        if simple is not None:
            return simple
    if len(repaired) > _LITERAL_LIMIT:
        return None
    if budget is not None:
        if budget.left < len(repaired):
            budget.refused += 1
            return None
        budget.left -= len(repaired)
    return literal_eval(repaired)


def _leaf_groups(value: Any, depth: int = 0) -> Iterator[list[float]]:
    """The innermost lists of numbers in ``value`` (numbers given as strings count too)."""
    if isinstance(value, str):
        numbers = numbers_in(value)
        if numbers:
            yield numbers
        return
    if not isinstance(value, (list, tuple)) or depth > 4:
        return
    if value and all(type(v) is int or type(v) is float for v in value):
        yield [as_float(v) for v in value]
        return
    for item in value:
        yield from _leaf_groups(item, depth + 1)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return as_float(value)
    if isinstance(value, str):
        numbers = numbers_in(value)
        return numbers[0] if len(numbers) == 1 else None
    return None


def _label(obj: dict[str, Any]) -> str | None:
    for key in LABEL_KEYS:
        value = obj.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return text
    return None


def _named_shape(obj: dict[str, Any], label: str | None) -> Shape | None:
    """Boxes and points given by named keys: ``x_min``…, ``x1``…, ``x``/``y``(/``w``/``h``)."""
    for names in _NAMED_BOXES:
        if names[0] in obj:
            values = [_number(obj.get(k)) for k in names]
            if all(v is not None for v in values):
                return Shape("box", tuple(v for v in values if v is not None), label, None, True)
    x, y = _number(obj.get("x")), _number(obj.get("y"))
    if x is None or y is None:
        return None
    w = _number(obj.get("width", obj.get("w")))
    h = _number(obj.get("height", obj.get("h")))
    if w is not None and h is not None:
        return Shape("box", (x, y, x + w, y + h), label, None, True)
    return Shape("point", (x, y), label, None, True)


def _shapes_by_key(obj: dict[str, Any], warnings: list[str]) -> list[Shape] | None:
    """Shapes under the known keys of ``obj``, or None when it has none of them."""
    label = _label(obj)
    for key in BOX_KEYS:
        if key in obj:
            value = obj[key]
            if type(value) is list and len(value) == 4 and all(type(v) is int for v in value):
                return [Shape("box", tuple(map(as_float, value)), label)]  # the common case
            groups = list(_leaf_groups(value))
            if len(groups) == 2 and all(len(g) == 2 for g in groups):  # two corners
                return [Shape("box", (*groups[0], *groups[1]), label)]
            return [s for g in groups for s in shapes_from_numbers(g, label, warnings)]
    for key in POINT_KEYS:
        if key in obj:
            return [Shape("point", tuple(g), label) for g in _leaf_groups(obj[key]) if len(g) == 2]
    for key in POLYGON_KEYS:
        if key in obj:
            groups = list(_leaf_groups(obj[key]))
            if len(groups) >= 3 and all(len(g) == 2 for g in groups):
                return [Shape("polygon", tuple(v for g in groups for v in g), label)]
            return [s for g in groups for s in shapes_from_numbers(g, label, warnings)]
    named = _named_shape(obj, label)
    return [named] if named else None


def shapes_of_object(obj: dict[Any, Any], warnings: list[str]) -> list[Shape]:
    """The shapes one decoded object describes (alias keys in any case, nested or flat values)."""
    shapes = _shapes_by_key(obj, warnings)
    if shapes is None and not all(isinstance(k, str) and k.islower() for k in obj):
        shapes = _shapes_by_key({str(k).lower(): v for k, v in obj.items()}, warnings)
    return shapes or []


def _walk(value: Any, shapes: list[Shape], warnings: list[str], depth: int = 0) -> None:
    """Collect shapes from every object in a decoded answer; wrappers are looked through."""
    if depth > 32 or len(shapes) >= MAX_SHAPES:
        return
    if isinstance(value, dict):
        found = shapes_of_object(value, warnings)
        if found:
            shapes.extend(found)
            return
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return
    for child in children:
        if isinstance(child, (dict, list)):
            _walk(child, shapes, warnings, depth + 1)


def _decode_whole(text: str) -> Any:
    """The answer decoded in one go when it is one JSON value (fences and prose around it)."""
    starts = [i for i in (text.find("["), text.find("{")) if i >= 0]
    if not starts:
        return None
    start, end = min(starts), max(text.rfind("]"), text.rfind("}"))
    if end <= start:
        return None
    try:
        return json.loads(text[start : end + 1])
    except (ValueError, RecursionError):
        return None


def structured_shapes(
    text: str, warnings: list[str], budget: LiteralBudget | None = None
) -> list[Shape]:
    """Shapes from the JSON/Python objects in ``text``, in reading order.

    A well-formed answer is decoded whole; anything else (prose echoes, Python literals,
    cut-off lists) is read object by object. ``budget`` is shared by the spans of one answer
    (the caller then reports what it refused, see :func:`literal_budget_warning`).
    """
    if "{" not in text:
        return []
    shapes: list[Shape] = []
    whole = _decode_whole(text) if '"' in text else None  # no JSON value without one
    if whole is not None:
        _walk(whole, shapes, warnings)
        return shapes
    undecodable = 0
    own_budget = budget is None
    budget = LiteralBudget() if budget is None else budget
    refused_before = budget.refused
    for match in _OBJECT.finditer(text):
        obj = decode_object(match.group(), budget)
        if not isinstance(obj, dict):
            undecodable += 1
            continue
        shapes.extend(shapes_of_object(obj, warnings))
        if len(shapes) >= MAX_SHAPES:
            warnings.append(f"stopped reading after {MAX_SHAPES} shapes")
            break
    undecodable -= budget.refused - refused_before
    if own_budget and budget.refused:
        warnings.append(literal_budget_warning(budget))
    if undecodable and shapes:
        warnings.append(f"skipped {undecodable} object(s) that are neither JSON nor a literal")
    return shapes
