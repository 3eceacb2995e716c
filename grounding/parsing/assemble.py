"""From shapes in the model's numbers to a :class:`~grounding.result.Grounding` in pixels.

Conversion, then the clean-up rules of the spec: corners sorted, everything clipped to the
image, zero-area boxes and exact duplicates dropped, and each kind of repair counted once in
the warnings (a repetition loop of 5,000 boxes gives one line, not 5,000).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from grounding.coords import UNIT, Frame, looks_unit_scaled
from grounding.parsing.shapes import Shape
from grounding.result import Grounding

__all__ = ["assemble"]


def _clip(v: float, hi: float) -> float:
    return 0.0 if v < 0.0 else hi if v > hi else v


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('x') else 's'}"


def assemble(
    shapes: list[Shape],
    frame: Frame,
    width: float,
    height: float,
    warnings: list[str],
    *,
    unit_is_native: bool = False,
) -> Grounding:
    """Convert ``shapes`` with ``frame`` (or their own), clean them up, and build the result."""
    boxes: list[list[float]] = []
    labels: list[str | None] = []
    points: list[list[float]] = []
    point_labels: list[str | None] = []
    polygons: list[list[float]] = []
    polygon_labels: list[str | None] = []
    seen: set[tuple[object, ...]] = set()
    repairs: Counter[str] = Counter()
    unit_frame = UNIT.with_order(frame.yx)

    for shape in shapes:
        own = shape.frame
        if own is None:
            own = frame
            if looks_unit_scaled(shape.values):
                own = unit_frame
                if not unit_is_native:
                    repairs["unit"] += 1
        if shape.named_xy:
            own = own.with_order(False)
        xy = own.pixels(shape.values, width, height)
        clipped = [_clip(v, width if i % 2 == 0 else height) for i, v in enumerate(xy)]
        if clipped != xy:
            repairs[f"clipped {shape.kind}"] += 1
        if shape.kind == "box":
            x1, y1, x2, y2 = clipped
            if x1 > x2 or y1 > y2:
                repairs["sorted"] += 1
                clipped = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
            if clipped[0] == clipped[2] or clipped[1] == clipped[3]:
                repairs["zero-area"] += 1
                continue
        key = (shape.kind, shape.label, *clipped)
        if key in seen:
            repairs[f"duplicate {shape.kind}"] += 1
            continue
        seen.add(key)
        if shape.kind == "box":
            boxes.append(clipped)
            labels.append(shape.label)
        elif shape.kind == "point":
            points.append(clipped)
            point_labels.append(shape.label)
        else:
            polygons.append(clipped)
            polygon_labels.append(shape.label)

    warnings.extend(_describe(repairs))
    return Grounding(
        boxes=np.array(boxes, dtype=np.float64).reshape(-1, 4),
        labels=labels,
        points=np.array(points, dtype=np.float64).reshape(-1, 2),
        point_labels=point_labels,
        polygons=[np.array(p, dtype=np.float64).reshape(-1, 2) for p in polygons],
        polygon_labels=polygon_labels,
        warnings=warnings,
    )


def _describe(repairs: Counter[str]) -> list[str]:
    notes = []
    for kind in ("box", "point", "polygon"):
        if n := repairs[f"duplicate {kind}"]:
            notes.append(f"dropped {_plural(n, 'duplicate ' + kind)}")
    for kind in ("box", "point", "polygon"):
        if n := repairs[f"clipped {kind}"]:
            notes.append(
                f"clipped {_plural(n, kind)} to the image (values past the model's range; "
                "far past it usually means the model answered in pixels)"
            )
    if n := repairs["sorted"]:
        notes.append(f"sorted the corners of {_plural(n, 'box')}")
    if n := repairs["zero-area"]:
        notes.append(f"dropped {_plural(n, 'box')} of zero area")
    if n := repairs["unit"]:
        notes.append(f"read {_plural(n, 'group')} on the 0-1 scale (all values fractions of 1)")
    return notes
