"""The parser's intermediate form: shapes in the model's own numbers, not yet pixels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from grounding.coords import Frame

__all__ = ["MAX_SHAPES", "Shape", "shapes_from_numbers"]

MAX_SHAPES = 4096  # far past any real answer (GLM's output limit allows ~1,000 boxes)


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
        return [Shape("polygon", values, label, frame)]
    if n >= 3:
        warnings.append(f"dropped a group of {n} numbers: neither a box, a point nor a polygon")
    return []
