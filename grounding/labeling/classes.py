"""Mapping the model's labels onto the classes asked for.

Case-insensitive, tolerant of numbered suffixes (``scratch-2``), plurals and small spelling
differences; with one class asked for, an unlabelled box takes that class.

>>> match = ClassMatcher(["scratch", "dent", "crack"])
>>> [match(x) for x in ["Scratch-2", "dents", "crak", "rust", None]]
['scratch', 'dent', 'crack', None, None]
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

__all__ = ["ClassMatcher"]

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
            if found is None:
                close = difflib.get_close_matches(key, self._by_normal, n=1, cutoff=self._cutoff)
                found = self._by_normal[close[0]] if close else None
        if len(self._memo) < 10_000:
            self._memo[label] = found
        return found
