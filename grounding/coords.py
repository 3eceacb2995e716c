"""Coordinate conventions: how a model's numbers become pixels of the upright original.

Every convention in the spec is one :class:`Frame`: a value ``v`` on an axis maps to the unit
interval as ``(v + offset) / scale`` and then to pixels by the image width or height.

>>> [round(v, 1) for v in Frame(1000, 1000).pixels([94, 598, 177, 991], 1200, 800)]
[112.8, 478.4, 212.4, 792.8]
>>> Frame(1024, 1024, yx=True).pixels([256, 128], 640, 480)  # PaliGemma: y first
[80.0, 120.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "UNIT",
    "Frame",
    "florence_frame",
    "kosmos_patch_box",
    "looks_unit_scaled",
    "smart_resize",
]


@dataclass(frozen=True)
class Frame:
    """The reference a model's numbers are measured in.

    ``sx``/``sy`` are the values that mean the full width/height (1000 for GLM, 1024 for
    PaliGemma, the resized input size for Qwen2.5-VL), ``offset`` is added before dividing
    (Florence-2 bin centres use 0.5), and ``yx`` says the numbers come y first.
    """

    sx: float
    sy: float
    offset: float = 0.0
    yx: bool = False

    def pixels(self, values: Sequence[float], width: float, height: float) -> list[float]:
        """Map flat ``(x, y, x, y, ...)`` numbers (``(y, x, ...)`` when ``yx``) to pixel x, y."""
        kx = width / self.sx
        ky = height / self.sy
        o = self.offset
        out: list[float] = []
        if self.yx:
            for i in range(0, len(values) - 1, 2):
                out.append((values[i + 1] + o) * kx)
                out.append((values[i] + o) * ky)
        else:
            for i in range(0, len(values) - 1, 2):
                out.append((values[i] + o) * kx)
                out.append((values[i + 1] + o) * ky)
        return out

    def with_order(self, yx: bool) -> Frame:
        """The same scale with another axis order (named keys such as ``x_min`` are always x,y)."""
        return self if yx == self.yx else Frame(self.sx, self.sy, self.offset, yx)


UNIT = Frame(1.0, 1.0)


def florence_frame() -> Frame:
    """Florence-2 quantizes each axis into 1000 bins and a value means the bin's centre."""
    return Frame(1000.0, 1000.0, offset=0.5)


def looks_unit_scaled(values: Sequence[float]) -> bool:
    """True when every value lies in [0, 1] and not all are integers (the spec's 0-1 rule).

    >>> looks_unit_scaled([0.12, 0.3, 0.55, 0.9]), looks_unit_scaled([0, 1, 1, 0])
    (True, False)
    """
    return all(0.0 <= v <= 1.0 for v in values) and not all(v == int(v) for v in values)


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> tuple[int, int]:
    """Qwen2.5-VL's resize of the input image: ``(height', width')``, multiples of ``factor``.

    >>> smart_resize(960, 1280)
    (952, 1288)
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def kosmos_patch_box(upper_left: int, lower_right: int, grid: int = 32) -> tuple[float, ...]:
    """Kosmos-2 patch indices on a ``grid``×``grid`` lattice to a unit-square box.

    Corners in the same row or column (or the same cell) cover whole cells; otherwise the
    box joins the two cells' centres.

    >>> kosmos_patch_box(44, 863)
    (0.390625, 0.046875, 0.984375, 0.828125)
    """
    cell = 1.0 / grid
    ux, uy = upper_left % grid, upper_left // grid
    lx, ly = lower_right % grid, lower_right // grid
    if ux == lx or uy == ly:
        return (ux * cell, uy * cell, lx * cell + cell, ly * cell + cell)
    half = cell / 2
    return (ux * cell + half, uy * cell + half, lx * cell + half, ly * cell + half)
