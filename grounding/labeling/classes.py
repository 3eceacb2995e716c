"""Mapping the model's labels onto the classes asked for.

Case-insensitive, tolerant of numbered suffixes (``scratch-2``), plurals and small spelling
differences (one letter added, dropped, changed or two swapped, as ``dnet`` for ``dent``,
when no other class is as close); with one class asked for, an unlabelled box takes that
class.

>>> match = ClassMatcher(["scratch", "dent", "crack"])
>>> [match(x) for x in ["Scratch-2", "dents", "crak", "dnet", "rust", None]]
['scratch', 'dent', 'crack', 'dent', None, None]
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grounding.result import Grounding

__all__ = ["ClassMatcher", "map_labels"]

_SUFFIX = re.compile(r"[\s_#-]*\d+$")


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _normal(label: str) -> str:
    text = _SUFFIX.sub("", label.strip().lower()).strip()
    return " ".join(_singular(w) for w in text.split())


def _within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` becomes ``b`` by one insertion, deletion, substitution or swap of two
    neighbouring letters (the optimal string alignment distance is at most 1)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and (a[diff[1]] == b[diff[0]])
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short))
    return short[i:] == long[i + 1 :]


class ClassMatcher:
    """Callable: a model label -> one of ``classes`` (as given), or None."""

    def __init__(self, classes: Sequence[str], *, cutoff: float = 0.8) -> None:
        self.classes = [c.strip() for c in classes if c.strip()]
        if not self.classes:
            raise ValueError("give at least one class")
        self._by_normal = {_normal(c): c for c in self.classes}
        self._cutoff = cutoff
        self._memo: dict[str | None, str | None] = {}

    def __call__(self, label: str | None) -> str | None:
        if label in self._memo:
            return self._memo[label]
        if label is None or not label.strip():
            found = self.classes[0] if len(self.classes) == 1 else None
        else:
            key = _normal(label)
            found = self._by_normal.get(key)
            if found is None and len(key) >= 3:
                near = [c for n, c in self._by_normal.items() if _within_one_edit(key, n)]
                found = near[0] if len(near) == 1 else None
            if found is None:
                close = difflib.get_close_matches(key, self._by_normal, n=1, cutoff=self._cutoff)
                found = self._by_normal[close[0]] if close else None
        if len(self._memo) < 10_000:
            self._memo[label] = found
        return found


def map_labels(
    result: Grounding, classes: Sequence[str], *, keep_unknown: bool = False
) -> Grounding:
    """``result`` with every label mapped onto ``classes`` as ``grounding label`` maps them.

    Shapes whose label matches no class are dropped, with a warning that names the labels
    (``keep_unknown=True`` keeps them under their own label). The returned result remembers
    ``classes``, so its ``to_detections()`` numbers classes by the list's order.
    """
    from grounding.result import Grounding

    match = ClassMatcher(classes)
    dropped: Counter[str] = Counter()

    def mapped(labels: list[str | None]) -> tuple[list[int], list[str | None]]:
        keep: list[int] = []
        names: list[str | None] = []
        for i, label in enumerate(labels):
            name = match(label)
            if name is None and not keep_unknown:
                dropped[label or "(no label)"] += 1
                continue
            keep.append(i)
            names.append(name if name is not None else label)
        return keep, names

    box_keep, box_labels = mapped(result.labels)
    point_keep, point_labels = mapped(result.point_labels)
    polygon_keep, polygon_labels = mapped(result.polygon_labels)
    warnings = list(result.warnings)
    if dropped:
        n = sum(dropped.values())
        named = ", ".join(f"{lab!r}" + (f" ×{k}" if k > 1 else "") for lab, k in dropped.items())
        warnings.append(
            f"dropped {n} shape{'s' if n > 1 else ''} whose label matched none of the classes: "
            f"{named}"
        )
    mapped_result = Grounding(
        boxes=result.boxes[box_keep],
        labels=box_labels,
        points=result.points[point_keep],
        point_labels=point_labels,
        polygons=[result.polygons[i] for i in polygon_keep],
        polygon_labels=polygon_labels,
        warnings=warnings,
        image_size=result.image_size,
        classes=list(match.classes),
        confidence=result.confidence[box_keep],
        point_confidence=result.point_confidence[point_keep],
        polygon_confidence=result.polygon_confidence[polygon_keep],
    )
    mapped_result.response = result.response
    return mapped_result
