"""What every dataset yields: :class:`Sample`, and the dataset error."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from grounding.errors import GroundingError

__all__ = ["DatasetError", "Sample", "bulk", "xywh_to_xyxy"]


@contextmanager
def bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Loading a split and re-parsing its answers creates hundreds of thousands of dicts,
    lists and arrays; each automatic collection rescans all of them, which doubled the time
    of ``grounding score``. Nothing here forms cycles, so reference counting frees it all.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class DatasetError(GroundingError):
    """A dataset file is missing, malformed or unsafe; the message names it."""


def xywh_to_xyxy(box: Any) -> list[float]:
    """``[x, y, w, h]`` -> ``[x1, y1, x2, y2]``."""
    x, y, w, h = box
    return [float(x), float(y), float(x + w), float(y + h)]


@dataclass(frozen=True)
class Sample:
    """One evaluation item.

    ``image`` is a path (or encoded bytes for parquet sources); ``size`` the (width, height)
    when the annotations give it (None: read from the image when needed). ``boxes`` are the
    ground truth in pixel xyxy, ``labels`` their categories (detection), ``expression`` the
    referring expression or instruction, ``categories`` the classes to ask for (detection).
    """

    id: str
    image: Path | bytes
    expression: str | None
    boxes: npt.NDArray[np.float64]
    split: str
    size: tuple[int, int] | None = None
    labels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
