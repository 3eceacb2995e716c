"""The result type: pixel boxes, points and polygons of the original upright image.

>>> g = Grounding.from_dict({"boxes": [{"xyxy": [10, 20, 30, 40], "label": "cat"}]})
>>> g.boxes.tolist(), g.labels
([[10.0, 20.0, 30.0, 40.0]], ['cat'])
>>> Grounding.from_dict(g.to_dict()) == g
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import supervision as sv

    from grounding._reply import Response

__all__ = ["Grounding"]

FloatArray = npt.NDArray[np.float64]


def _array(rows: Sequence[Sequence[float]] | FloatArray, width: int) -> FloatArray:
    if isinstance(rows, np.ndarray) and rows.dtype == np.float64 and rows.shape[1:] == (width,):
        return rows
    return np.asarray(rows, dtype=np.float64).reshape(-1, width)


def _scores(values: Sequence[float] | FloatArray, n: int, name: str) -> FloatArray:
    scores = np.asarray(values, dtype=np.float64).reshape(-1)
    if not len(scores):
        return np.full(n, np.nan)
    if len(scores) != n:
        raise ValueError(f"{name} has {len(scores)} entries for {n} shapes")
    return scores


def _entry(item: dict[str, Any], score: float) -> dict[str, Any]:
    if np.isfinite(score):
        item["confidence"] = float(score)
    return item


def _read_scores(items: Sequence[Mapping[str, Any]]) -> FloatArray:
    return np.array([float(i.get("confidence", np.nan)) for i in items], dtype=np.float64)


@dataclass(eq=False)
class Grounding:
    """What a model's answer locates, in pixels of the original, upright image.

    Parallel arrays in the manner of ``supervision.Detections``: ``boxes[i]`` has label
    ``labels[i]`` (``None`` where the model gave none), and likewise for points and polygons.
    ``warnings`` records every repair the parser made, in plain words. ``response`` is the
    model's reply (raw text, usage, latency) when the result came from a client, and
    ``image_size`` the (width, height) the coordinates refer to, when known. ``classes`` is the
    vocabulary asked for (set by ``grounding.detect``), used by :meth:`to_detections`.

    ``confidence`` holds one score in [0, 1] per box (``point_confidence`` and
    ``polygon_confidence`` likewise), NaN where unknown: a plain answer has none; see
    :mod:`grounding.confidence` for the two ways to get them.
    """

    boxes: FloatArray = field(default_factory=lambda: np.empty((0, 4)))
    labels: list[str | None] = field(default_factory=list)
    points: FloatArray = field(default_factory=lambda: np.empty((0, 2)))
    point_labels: list[str | None] = field(default_factory=list)
    polygons: list[FloatArray] = field(default_factory=list)
    polygon_labels: list[str | None] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    response: Response | None = field(default=None, repr=False)
    image_size: tuple[int, int] | None = field(default=None, repr=False)
    classes: list[str] | None = field(default=None, repr=False)
    confidence: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)
    point_confidence: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)
    polygon_confidence: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)

    def __post_init__(self) -> None:
        self.boxes = _array(self.boxes, 4)
        self.points = _array(self.points, 2)
        self.polygons = [_array(p, 2) for p in self.polygons]
        for name, items, n in (
            ("labels", self.labels, len(self.boxes)),
            ("point_labels", self.point_labels, len(self.points)),
            ("polygon_labels", self.polygon_labels, len(self.polygons)),
        ):
            if not items and n:
                items.extend([None] * n)
            elif len(items) != n:
                raise ValueError(f"{name} has {len(items)} entries for {n} shapes")
        self.confidence = _scores(self.confidence, len(self.boxes), "confidence")
        self.point_confidence = _scores(self.point_confidence, len(self.points), "point_confidence")
        self.polygon_confidence = _scores(
            self.polygon_confidence, len(self.polygons), "polygon_confidence"
        )

    @classmethod
    def _trusted(
        cls,
        boxes: FloatArray,
        labels: list[str | None],
        points: FloatArray,
        point_labels: list[str | None],
        polygons: list[FloatArray],
        polygon_labels: list[str | None],
        warnings: list[str],
        image_size: tuple[int, int] | None = None,
    ) -> Grounding:
        """Build from arrays already in shape (the parser's own output): no re-validation."""
        self = object.__new__(cls)
        self.boxes, self.labels = boxes, labels
        self.points, self.point_labels = points, point_labels
        self.polygons, self.polygon_labels = polygons, polygon_labels
        self.warnings, self.response, self.image_size = warnings, None, image_size
        self.classes = None
        self.confidence = np.full(len(boxes), np.nan)
        self.point_confidence = np.full(len(points), np.nan)
        self.polygon_confidence = np.full(len(polygons), np.nan)
        return self

    def __len__(self) -> int:
        """The number of boxes, points and polygons together."""
        return len(self.boxes) + len(self.points) + len(self.polygons)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grounding):
            return NotImplemented
        return (
            np.array_equal(self.boxes, other.boxes)
            and np.array_equal(self.points, other.points)
            and len(self.polygons) == len(other.polygons)
            and all(
                np.array_equal(a, b) for a, b in zip(self.polygons, other.polygons, strict=True)
            )
            and self.labels == other.labels
            and self.point_labels == other.point_labels
            and self.polygon_labels == other.polygon_labels
            and self.warnings == other.warnings
            and np.array_equal(self.confidence, other.confidence, equal_nan=True)
            and np.array_equal(self.point_confidence, other.point_confidence, equal_nan=True)
            and np.array_equal(self.polygon_confidence, other.polygon_confidence, equal_nan=True)
        )

    @property
    def is_empty(self) -> bool:
        """True when the answer located nothing."""
        return len(self) == 0

    @property
    def has_confidence(self) -> bool:
        """True when any shape has a known confidence."""
        return any(
            bool(np.isfinite(c).any())
            for c in (self.confidence, self.point_confidence, self.polygon_confidence)
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by the CLI, stores and prediction files.

        A shape carries ``"confidence"`` only when its score is known.
        """
        return {
            "boxes": [
                _entry({"xyxy": box.tolist(), "label": label}, score)
                for box, label, score in zip(self.boxes, self.labels, self.confidence, strict=True)
            ],
            "points": [
                _entry({"xy": point.tolist(), "label": label}, score)
                for point, label, score in zip(
                    self.points, self.point_labels, self.point_confidence, strict=True
                )
            ],
            "polygons": [
                _entry({"points": polygon.tolist(), "label": label}, score)
                for polygon, label, score in zip(
                    self.polygons, self.polygon_labels, self.polygon_confidence, strict=True
                )
            ],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grounding:
        """Rebuild a result from :meth:`to_dict` output (missing sections are empty)."""
        boxes = data.get("boxes") or []
        points = data.get("points") or []
        polygons = data.get("polygons") or []
        return cls(
            boxes=_array([b["xyxy"] for b in boxes], 4),
            labels=[b.get("label") for b in boxes],
            points=_array([p["xy"] for p in points], 2),
            point_labels=[p.get("label") for p in points],
            polygons=[_array(p["points"], 2) for p in polygons],
            polygon_labels=[p.get("label") for p in polygons],
            warnings=list(data.get("warnings") or []),
            confidence=_read_scores(boxes),
            point_confidence=_read_scores(points),
            polygon_confidence=_read_scores(polygons),
        )

    def to_detections(self, classes: Sequence[str] | None = None) -> sv.Detections:
        """Boxes and polygons as ``supervision.Detections``.

        With ``classes`` (default: the ``classes`` this result was asked for, if any), labels
        are matched onto the list as ``grounding label`` does (case, numbered suffixes, plurals,
        small misspellings) and ``class_id`` is the index in the list, the same in every
        image; a label matching none gets an id after the list's, in order of appearance,
        and keeps its own name. Without a vocabulary, ids follow the order of appearance.
        Polygons appear as their bounding boxes (computed with shapely); ``data["polygon"]``
        marks them and ``data["class_name"]`` holds the names ("" where there is none).
        Points have no box and are left out.

        >>> g = Grounding(boxes=[[0, 0, 2, 2], [1, 1, 3, 3]], labels=["dent-2", "scratch"])
        >>> g.to_detections(classes=["scratch", "dent"]).class_id.tolist()
        [1, 0]
        """
        import shapely
        import supervision as sv

        polygon_boxes = [shapely.MultiPoint(p).bounds for p in self.polygons if len(p)]
        polygon_labels = [
            lab for p, lab in zip(self.polygons, self.polygon_labels, strict=True) if len(p)
        ]
        xyxy = np.vstack([self.boxes, _array(polygon_boxes, 4)])
        names = [lab or "" for lab in (*self.labels, *polygon_labels)]
        vocabulary = self.classes if classes is None else list(classes)
        if vocabulary:
            from grounding.labeling.classes import ClassMatcher

            match = ClassMatcher(vocabulary)
            mapped = [match(n or None) for n in names]
            unknown = (n for n, m in zip(names, mapped, strict=True) if m is None)
            order = [*match.classes, *dict.fromkeys(unknown)]
            names = [m if m is not None else n for n, m in zip(names, mapped, strict=True)]
        else:
            order = list(dict.fromkeys(names))
        index = {name: i for i, name in enumerate(order)}
        scores = np.concatenate(
            [self.confidence, self.polygon_confidence[[len(p) > 0 for p in self.polygons]]]
        )
        return sv.Detections(
            xyxy=xyxy,
            confidence=scores if np.isfinite(scores).any() else None,
            class_id=np.array([index[n] for n in names], dtype=int),
            data={
                "class_name": np.array(names, dtype=str),
                "polygon": np.array(
                    [False] * len(self.boxes) + [True] * len(polygon_boxes), dtype=bool
                ),
            },
        )
