"""From shapes in the model's numbers to a :class:`~grounding.result.Grounding` in pixels.

Conversion, then the clean-up rules of the spec: corners sorted, everything clipped to the
image, zero-area boxes and exact duplicates dropped, and each kind of repair counted once in
the warnings (a repetition loop of 5,000 boxes gives one line, not 5,000).
"""

from __future__ import annotations

import numpy as np

from grounding.coords import UNIT, Frame, looks_unit_scaled
from grounding.parsing.shapes import MAX_VALUE, Shape
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
    repairs: dict[str, int] = {}
    unit_frame = UNIT.with_order(frame.yx)

    for shape in shapes:
        kind, values, label = shape.kind, shape.values, shape.label
        # NaN fails every comparison, so this also drops NaN (and the infinities)
        if not all(-MAX_VALUE <= v <= MAX_VALUE for v in values):
            repairs["non-finite"] = repairs.get("non-finite", 0) + 1
            continue
        own = shape.frame
        if own is None:
            own = frame
            if max(values) <= 1.0 and looks_unit_scaled(values):
                own = unit_frame
                if not unit_is_native:
                    repairs["unit"] = repairs.get("unit", 0) + 1
        if shape.named_xy and own.yx:
            own = own.with_order(False)
        if kind == "box":
            # the common case, written out: convert, clip, sort, drop empty
            a, b, c, d = values
            if own.yx:
                a, b, c, d = b, a, d, c
            kx, ky, o = width / own.sx, height / own.sy, own.offset
            x1, y1, x2, y2 = (a + o) * kx, (b + o) * ky, (c + o) * kx, (d + o) * ky
            out = [_clip(x1, width), _clip(y1, height), _clip(x2, width), _clip(y2, height)]
            if out != [x1, y1, x2, y2]:
                repairs["clipped box"] = repairs.get("clipped box", 0) + 1
            if out[0] > out[2] or out[1] > out[3]:
                repairs["sorted"] = repairs.get("sorted", 0) + 1
                out = [
                    min(out[0], out[2]),
                    min(out[1], out[3]),
                    max(out[0], out[2]),
                    max(out[1], out[3]),
                ]
            if out[0] == out[2] or out[1] == out[3]:
                repairs["zero-area"] = repairs.get("zero-area", 0) + 1
                continue
        else:
            xy = own.pixels(values, width, height)
            out = [_clip(v, width if i % 2 == 0 else height) for i, v in enumerate(xy)]
            if out != xy:
                repairs[f"clipped {kind}"] = repairs.get(f"clipped {kind}", 0) + 1
        key = (kind, label, *out)
        if key in seen:
            repairs[f"duplicate {kind}"] = repairs.get(f"duplicate {kind}", 0) + 1
            continue
        seen.add(key)
        if kind == "box":
            boxes.append(out)
            labels.append(label)
        elif kind == "point":
            points.append(out)
            point_labels.append(label)
        else:
            polygons.append(out)
            polygon_labels.append(label)

    if repairs:
        warnings.extend(_describe(repairs))
    return Grounding._trusted(
        np.array(boxes, dtype=np.float64) if boxes else np.empty((0, 4)),
        labels,
        np.array(points, dtype=np.float64) if points else np.empty((0, 2)),
        point_labels,
        [np.array(p, dtype=np.float64).reshape(-1, 2) for p in polygons],
        polygon_labels,
        warnings,
        (round(width), round(height)),
    )


def _describe(repairs: dict[str, int]) -> list[str]:
    notes = []
    if n := repairs.get("non-finite"):
        notes.append(
            f"dropped {_plural(n, 'shape')} holding NaN, an infinity or a number past "
            f"{MAX_VALUE:.0e} (not a coordinate)"
        )
    for kind in ("box", "point", "polygon"):
        if n := repairs.get(f"duplicate {kind}"):
            notes.append(f"dropped {_plural(n, 'duplicate ' + kind)}")
    for kind in ("box", "point", "polygon"):
        if n := repairs.get(f"clipped {kind}"):
            notes.append(
                f"clipped {_plural(n, kind)} to the image (values past the model's range; "
                "far past it usually means the model answered in pixels)"
            )
    if n := repairs.get("sorted"):
        notes.append(f"sorted the corners of {_plural(n, 'box')}")
    if n := repairs.get("zero-area"):
        notes.append(f"dropped {_plural(n, 'box')} of zero area")
    if n := repairs.get("unit"):
        notes.append(f"read {_plural(n, 'group')} on the 0-1 scale (all values fractions of 1)")
    return notes
