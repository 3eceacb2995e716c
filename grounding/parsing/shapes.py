"""The parser's intermediate form: shapes in the model's own numbers, not yet pixels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from grounding.coords import Frame

__all__ = ["MAX_SHAPES", "MAX_VALUE", "Shape", "as_float", "box_run_shapes", "shapes_from_numbers"]

MAX_SHAPES = 4096  # far past any real answer (GLM's output limit allows ~1,000 boxes)
# The largest magnitude read as a coordinate: far past any image in any convention (pixels of
# a 100,000-pixel side included), small enough that conversion can never overflow. Shapes
# holding anything bigger, NaN or an infinity are dropped with a warning when assembled.
MAX_VALUE = 1e9


def as_float(value: int | float) -> float:
    """``float(value)`` that never raises: an int too big for a float becomes an infinity.

    >>> as_float(10**400), as_float(-(10**400)), as_float(3)
    (inf, -inf, 3.0)
    """
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


class Shape(NamedTuple):
    """One box, point or polygon as the model wrote it.

    ``values`` are flat (``x, y, x, y …`` or ``y, x …`` in the frame's order). ``frame`` is
    the grammar's own convention, or None for the model profile's (where the 0-1 rule
    applies). ``named_xy`` marks values read from named keys such as ``x_min``, which are
    x,y whatever the profile's order.
    """

    kind: str  # "box" | "point" | "polygon"
    values: tuple[float, ...]
    label: str | None = None
    frame: Frame | None = None
    named_xy: bool = False


def shapes_from_numbers(
    numbers: Sequence[float],
    label: str | None,
    warnings: list[str],
    frame: Frame | None = None,
) -> list[Shape]:
    """The spec's counting rule: 4 numbers are a box, 2 a point, 3+ pairs a polygon.

    >>> [s.kind for s in shapes_from_numbers([1, 2, 3, 4], None, [])]
    ['box']
    """
    n = len(numbers)
    values = tuple(numbers)
    if n == 4:
        return [Shape("box", values, label, frame)]
    if n == 2:
        return [Shape("point", values, label, frame)]
    if n >= 6 and n % 2 == 0:
        if n > 2 * MAX_SHAPES:
            warnings.append(f"dropped a polygon of {n // 2} points (more than {MAX_SHAPES})")
            return []
        return [Shape("polygon", values, label, frame)]
    if n >= 3:
        warnings.append(f"dropped a group of {n} numbers: neither a box, a point nor a polygon")
    return []


def _all_boxes(numbers: Sequence[float]) -> bool:
    """True when every group of four is a box with its corners in order on both axes."""
    return all(
        numbers[i] < numbers[i + 2] and numbers[i + 1] < numbers[i + 3]
        for i in range(0, len(numbers), 4)
    )


def box_run_shapes(
    numbers: Sequence[float],
    label: str | None,
    warnings: list[str],
    frame: Frame | None = None,
) -> list[Shape]:
    """A run of numbers a box grammar wrote (Florence-2 ``<loc_N>`` runs, ``<box>`` spans).

    Florence-2's own post-processing reads a run of 4k locations as k boxes (detection,
    region proposals, dense captions, phrase grounding: several boxes under one phrase), so
    4k numbers are k boxes when every group of four is a box with its corners in order;
    otherwise the counting rule applies (8 = an OCR quadrilateral, 2k = a polygon). A run
    whose length is not a multiple of four but whose leading groups are all boxes loses
    only its trailing numbers, as the reference parser does.

    >>> [s.values for s in box_run_shapes([1, 2, 3, 4, 5, 6, 7, 8], None, [])]
    [(1, 2, 3, 4), (5, 6, 7, 8)]
    >>> [s.kind for s in box_run_shapes([1, 1, 3, 1, 3, 3, 1, 3], None, [])]
    ['polygon']
    """
    n = len(numbers)
    whole = n - n % 4
    if n <= 4 or not _all_boxes(numbers[:whole]):
        return shapes_from_numbers(numbers, label, warnings, frame)
    if whole < n:
        if n % 2 == 0 and n >= 6:
            return shapes_from_numbers(numbers, label, warnings, frame)  # a polygon
        warnings.append(f"dropped {n - whole} trailing number(s) after {whole // 4} boxes")
    return [Shape("box", tuple(numbers[i : i + 4]), label, frame) for i in range(0, whole, 4)]
