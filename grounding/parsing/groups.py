"""Loose bracket groups of numbers: ``[[94,598,177,991]]``, ``(x1,y1),(x2,y2)``, ``<1 2 3 4>``.

The scanner only ever matches innermost groups (no bracket inside, at most 256 characters),
so it runs in time linear in the text whatever the nesting; runs of groups that share one
parent bracket are then put together in a single pass.

>>> [s.values for s in loose_groups("The cup is [[150,160,250,260]].", [])]
[(150.0, 160.0, 250.0, 260.0)]
"""

from __future__ import annotations

import re

from grounding.parsing.shapes import MAX_SHAPES, Shape, shapes_from_numbers

__all__ = ["NUMBER", "loose_groups", "numbers_in"]

NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
# An innermost group holds only numbers and separators (no bracket, so no nesting to track).
_INNER = re.compile(r"[\[(<{]([\s\d.,;+\-]{0,256})[\])>}]")
_GAP = 8  # the most characters allowed between two groups of one run, or around it


def numbers_in(content: str) -> list[float]:
    """Every number in ``content`` (zero-padded, signed and decimal numbers included)."""
    return [float(n) for n in NUMBER.findall(content)]


def _numeric_groups(content: str) -> list[list[float]] | None:
    """The numbers of one innermost group, split at ``;`` (CogVLM); None when there are none."""
    parts = content.split(";") if ";" in content else (content,)
    groups = [numbers_in(part) for part in parts]
    groups = [g for g in groups if g]
    return groups or None


def _only_separator(text: str, start: int, end: int) -> bool:
    return end - start <= _GAP and text[start:end].strip() in ("", ",", ";")


def _enclosed(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` sits inside one more bracket pair (a parent group)."""
    before = text[max(0, start - _GAP) : start].rstrip()
    after = text[end : end + _GAP].lstrip()
    return bool(before) and before[-1] in "[(" and bool(after) and after[0] in "])"


def _run_shapes(
    text: str,
    run: list[tuple[int, int, list[list[float]]]],
    label: str | None,
    pairs_are_corners: bool,
    warnings: list[str],
) -> list[Shape]:
    pairs = [g[0] for _, _, g in run if len(g) == 1 and len(g[0]) == 2]
    if len(pairs) == len(run):
        if pairs_are_corners and len(pairs) % 2 == 0:
            return [
                Shape("box", (*pairs[i], *pairs[i + 1]), label) for i in range(0, len(pairs), 2)
            ]
        if len(pairs) >= 3 and _enclosed(text, run[0][0], run[-1][1]):
            return [Shape("polygon", tuple(v for p in pairs for v in p), label)]
    shapes: list[Shape] = []
    for _, _, groups in run:
        for numbers in groups:
            shapes.extend(shapes_from_numbers(numbers, label, warnings))
    return shapes


def loose_groups(
    text: str,
    warnings: list[str],
    label: str | None = None,
    *,
    pairs_are_corners: bool = False,
) -> list[Shape]:
    """Shapes from the numeric bracket groups of ``text``, in reading order.

    Three or more ``[x, y]`` pairs inside one parent bracket make a polygon. With
    ``pairs_are_corners`` (inside ``<box>`` tokens) consecutive pairs are box corners.
    Groups holding anything but numbers and separators (``[x1, y1, x2, y2]``) are ignored.
    """
    shapes: list[Shape] = []
    run: list[tuple[int, int, list[list[float]]]] = []
    for match in _INNER.finditer(text):
        groups = _numeric_groups(match.group(1))
        if groups is None:
            continue
        start, end = match.span()
        if run and not _only_separator(text, run[-1][1], start):
            shapes.extend(_run_shapes(text, run, label, pairs_are_corners, warnings))
            run = []
        if len(shapes) + len(run) >= MAX_SHAPES:
            warnings.append(f"stopped reading after {MAX_SHAPES} shapes")
            break
        run.append((start, end, groups))
    if run:
        shapes.extend(_run_shapes(text, run, label, pairs_are_corners, warnings))
    return shapes
