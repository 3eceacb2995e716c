"""Shape checks for downloaded annotation files: one line naming the file and the problem.

A dataset file is untrusted input. Every value a loader uses is checked for its type before
it is used, so a wrong-shaped file gives a :class:`~grounding.datasets.base.DatasetError`
(never a ``KeyError`` or ``TypeError`` traceback), a box is four finite numbers (a ``NaN``
box would score as a silent miss), and nothing of unknown type is ever turned into a string
(a pickle can share lists so that ``str()`` of one would be exponentially long).

>>> from pathlib import Path
>>> box(Path("a.json"), "annotation 3", [1, 2, 3, float("nan")])
Traceback (most recent call last):
...
grounding.datasets.base.DatasetError: a.json: annotation 3 has a bbox that is not 4 finite numbers
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from grounding.datasets.base import DatasetError

__all__ = [
    "box",
    "fail",
    "field",
    "identifier",
    "mapping",
    "number",
    "records",
    "size",
    "text",
]


def _kind(value: object) -> str:
    """What ``value`` is, with its article, for a message (never its contents: they may be huge).

    >>> _kind(3), _kind(None), _kind([])
    ('an int', 'a null', 'a list')
    """
    name = "null" if value is None else type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def fail(path: Path, problem: str) -> NoReturn:
    """Raise the one-line error for ``path``."""
    raise DatasetError(f"{path}: {' '.join(problem.split())}")


def mapping(path: Path, where: str, value: object) -> dict[str, Any]:
    """``value`` as an object (dict), or the error."""
    if not isinstance(value, dict):
        fail(path, f"{where} is {_kind(value)}, not an object")
    return value


def records(path: Path, where: str, value: object) -> list[Any]:
    """``value`` as a list (of records), or the error; a missing list is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        fail(path, f"{where} is {_kind(value)}, not a list")
    return value


def field(path: Path, where: str, record: Mapping[str, Any], key: str) -> Any:
    """``record[key]``, or the error naming the missing key."""
    try:
        return record[key]
    except KeyError:
        fail(path, f"{where} has no {key!r}")


def identifier(path: Path, where: str, value: object) -> int | str:
    """An id: an integer or a short string (anything else cannot index or print safely)."""
    if type(value) is int or (isinstance(value, str) and len(value) <= 256):
        return value
    fail(path, f"{where} has an id that is {_kind(value)}, not an integer or a short string")


def text(path: Path, where: str, value: object, *, optional: bool = False) -> str:
    """A string (``None`` allowed and read as empty when ``optional``)."""
    if isinstance(value, str):
        return value
    if optional and value is None:
        return ""
    fail(path, f"{where} is {_kind(value)}, not text")


def number(path: Path, where: str, value: object) -> float:
    """A finite number (``bool`` is not one)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            result = float(value)
        except OverflowError:
            result = math.inf
        if math.isfinite(result):
            return result
    fail(path, f"{where} is not a finite number")


def box(path: Path, where: str, value: object) -> list[float]:
    """Four finite numbers (the caller decides whether they are xywh or xyxy)."""
    if isinstance(value, (list, tuple)) and len(value) == 4:
        try:
            return [number(path, where, v) for v in value]
        except DatasetError:
            pass
    fail(path, f"{where} has a bbox that is not 4 finite numbers")


def size(path: Path, where: str, width: object, height: object) -> tuple[int, int]:
    """An image size: two positive finite numbers, as integers."""
    w, h = number(path, f"{where} width", width), number(path, f"{where} height", height)
    if w <= 0 or h <= 0 or w > 1e6 or h > 1e6:
        fail(path, f"{where} has an image size of {w:g}x{h:g}")
    return int(w), int(h)
