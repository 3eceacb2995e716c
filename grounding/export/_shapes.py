"""What an exported image holds: its shapes in pixels, mapped onto the job's classes.

Coordinates are clipped to the image and rounded to 0.001 px, so a job's ``76.16`` is written as
``76.16``, never as ``76.16000000000003``.

>>> classes = Classes(["scratch"], keep_unknown=False)
>>> boxes, polygons, points, scores = shapes(
...     {"boxes": [{"xyxy": [-5, 10.000000000000002, 50, 20], "label": "scratch",
...                 "confidence": 0.8}]}, 40, 30, classes
... )
>>> boxes, scores.boxes
([(0, [0.0, 10.0, 40.0, 20.0])], [0.8])
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grounding.labeling.classes import ClassMatcher
from grounding.labeling.store import JobStore, Row

__all__ = ["Classes", "ExportImage", "ShapeScores", "merged_rows", "number", "px", "shapes"]

Box = tuple[int, list[float]]  # (class index, [x1, y1, x2, y2])
Polygon = tuple[int, list[tuple[float, float]]]  # (class index, vertices)
Point = tuple[int, tuple[float, float]]  # (class index, (x, y))


def px(value: float) -> float:
    """A pixel coordinate at the export precision (0.001 px, no float noise)."""
    return round(float(value), 3) + 0.0  # + 0.0 turns -0.0 into 0.0


def number(value: float, digits: int) -> str:
    """Fixed-point text without trailing zeros: ``number(0.5, 8) == "0.5"``, never ``5e-01``."""
    text = f"{round(value, digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass
class ShapeScores:
    """The confidence of each exported shape (None where the job has none), in shape order."""

    boxes: list[float | None] = field(default_factory=list)
    polygons: list[float | None] = field(default_factory=list)
    points: list[float | None] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return any(s is not None for s in (*self.boxes, *self.polygons, *self.points))


@dataclass
class ExportImage:
    """One done image as every format writes it."""

    row: Row
    name: str  # the unique, flat file name in the export (with its extension)
    stem: str  # ``name`` without the extension: label and annotation files are named after it
    subset: str  # "train" or "val"
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    polygons: list[Polygon] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    scores: ShapeScores = field(default_factory=ShapeScores)


def merged_rows(stores: Sequence[JobStore], *statuses: str) -> Iterator[Row]:
    """Rows of every store in key order; a key seen in several stores is taken once."""
    last = None
    for row in heapq.merge(*(s.rows(*statuses) for s in stores), key=lambda r: r.key):
        if row.key != last:
            last = row.key
            yield row


def image_size(row: Row) -> tuple[int, int]:
    """The upright (EXIF-applied) size the job's coordinates refer to."""
    if row.width and row.height:
        return row.width, row.height
    from grounding.images import load_image

    image = load_image(row.source)
    return image.width, image.height


class Classes:
    """The job's classes, then unknown labels in order of first appearance (keep_unknown)."""

    def __init__(self, classes: Sequence[str], keep_unknown: bool) -> None:
        self.names = list(classes)
        self.match = ClassMatcher(classes)
        self.keep_unknown = keep_unknown
        self.unmatched = 0

    def index(self, label: str | None) -> int | None:
        name = self.match(label)
        if name is None:
            if not self.keep_unknown:
                self.unmatched += 1
                return None
            name = (label or "unknown").strip() or "unknown"
            if name not in self.names:
                self.names.append(name)
        return self.names.index(name)


def _clip(value: Any, limit: int) -> float:
    return px(min(max(float(value), 0.0), float(limit)))


def shapes(
    result: Mapping[str, Any] | None, width: int, height: int, classes: Classes
) -> tuple[list[Box], list[Polygon], list[Point], ShapeScores]:
    """The result's boxes, polygons and points in the image, at export precision, and their
    confidences.

    Shapes are clipped to the image; a box or polygon that is empty after clipping is left
    out, and so is a shape whose label matches no class (unless ``keep_unknown``).
    """
    result = result or {}
    scores = ShapeScores()
    boxes: list[Box] = []
    for box in result.get("boxes") or []:
        index = classes.index(box.get("label"))
        if index is None:
            continue
        x1, y1, x2, y2 = box["xyxy"]
        clipped = [_clip(x1, width), _clip(y1, height), _clip(x2, width), _clip(y2, height)]
        if clipped[2] > clipped[0] and clipped[3] > clipped[1]:
            boxes.append((index, clipped))
            scores.boxes.append(_score(box))
    polygons: list[Polygon] = []
    for polygon in result.get("polygons") or []:
        index = classes.index(polygon.get("label"))
        if index is None:
            continue
        vertices = [(_clip(x, width), _clip(y, height)) for x, y in polygon.get("points") or []]
        xs, ys = [v[0] for v in vertices], [v[1] for v in vertices]
        if len(vertices) >= 3 and max(xs) > min(xs) and max(ys) > min(ys):
            polygons.append((index, vertices))
            scores.polygons.append(_score(polygon))
    points: list[Point] = []
    for point in result.get("points") or []:
        index = classes.index(point.get("label"))
        if index is None:
            continue
        x, y = point["xy"]
        if 0 <= float(x) <= width and 0 <= float(y) <= height:
            points.append((index, (px(x), px(y))))
            scores.points.append(_score(point))
    return boxes, polygons, points, scores


def _score(shape: Mapping[str, Any]) -> float | None:
    value = shape.get("confidence")
    return None if value is None else round(float(value), 4)


def bounds(vertices: Sequence[tuple[float, float]]) -> list[float]:
    """[x1, y1, x2, y2] of a polygon."""
    xs, ys = [v[0] for v in vertices], [v[1] for v in vertices]
    return [min(xs), min(ys), max(xs), max(ys)]


def area(vertices: Sequence[tuple[float, float]]) -> float:
    """The polygon's true area (shoelace), in px²."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(vertices, [*vertices[1:], vertices[0]], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2
