"""The tile plan: which windows of the upright original are sent, each at full resolution.

A grid of ``rows × cols`` equal tiles covers the image with neighbours sharing at least
``overlap`` of a tile; ``auto`` picks the fewest tiles that each fit the model's pixel cap, so
no tile is downscaled. With ``full`` the whole image is asked too (for objects larger than a
tile).

>>> plan = plan_tiles((8000, 6000), "auto", overlap=0.2, max_pixels=5_900_000)
>>> plan.grid, plan.tile_size, len(plan.windows)
((3, 4), (2353, 2308), 13)
>>> plan_tiles((8000, 6000), "2x2", overlap=0.0, full=False).windows[1]
Window(x=4000, y=0, width=4000, height=3000, full=False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MAX_TILES", "TilePlan", "Window", "parse_grid", "plan_tiles"]

MAX_TILES = 400  # a plan beyond this is a mistake (or a cap far too small), not a job


@dataclass(frozen=True)
class Window:
    """A rectangle of the upright original, in pixels: a tile, or the whole image (``full``)."""

    x: int
    y: int
    width: int
    height: int
    full: bool = False

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(x1, y1, x2, y2)`` for ``Image.crop``."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)


@dataclass(frozen=True)
class TilePlan:
    """The windows asked for one image size: the grid's tiles, then the whole image if asked."""

    image_size: tuple[int, int]
    grid: tuple[int, int]  # (rows, cols)
    tile_size: tuple[int, int]
    overlap: float
    windows: tuple[Window, ...]

    @property
    def tiled(self) -> bool:
        """False when the plan is the whole image alone (nothing to merge)."""
        return self.grid != (1, 1)

    @property
    def requests(self) -> int:
        return len(self.windows)

    def describe(self) -> str:
        """One line for dry runs and reports: ``8000x6000: 3x4 tiles of 2353x2308 + whole``."""
        w, h = self.image_size
        if not self.tiled:
            return f"{w}x{h}: whole image (1 request)"
        rows, cols = self.grid
        tw, th = self.tile_size
        whole = any(win.full for win in self.windows)
        return (
            f"{w}x{h}: {rows}x{cols} tiles of {tw}x{th}"
            + (" + whole image" if whole else "")
            + f" ({self.requests} requests)"
        )


def parse_grid(value: str) -> tuple[int, int] | None:
    """``"auto"`` -> None; ``"3x4"`` -> (3 rows, 4 columns); ValueError otherwise.

    >>> parse_grid("2x3"), parse_grid("auto")
    ((2, 3), None)
    """
    text = value.strip().lower().replace("×", "x")
    if text == "auto":
        return None
    parts = text.split("x")
    try:
        rows, cols = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"expected auto or ROWSxCOLS such as 2x3, got {value!r}") from None
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and columns must be at least 1, got {value!r}")
    if rows * cols > MAX_TILES:
        raise ValueError(f"{rows}x{cols} is {rows * cols} tiles, over the limit of {MAX_TILES}")
    return rows, cols


def _span(length: int, count: int, overlap: float) -> int:
    """The tile length that covers ``length`` with ``count`` tiles sharing ``overlap``."""
    if count == 1:
        return length
    return min(length, math.ceil(length / (count - (count - 1) * overlap)))


def _starts(length: int, span: int, count: int) -> list[int]:
    if count == 1:
        return [0]
    return [round(i * (length - span) / (count - 1)) for i in range(count)]


def _auto_grid(width: int, height: int, overlap: float, max_pixels: int | None) -> tuple[int, int]:
    if max_pixels is None or width * height <= max_pixels:
        return 1, 1
    # strips are as few as squares but show the model odd shapes: no tile more elongated
    # than 2:1, or than the image itself
    elongation = math.log(max(2.0, width / height, height / width))
    for n in range(2, MAX_TILES + 1):
        fits = []
        for cols in (c for c in range(1, n + 1) if n % c == 0):
            tw, th = _span(width, cols, overlap), _span(height, n // cols, overlap)
            shape = abs(math.log(tw / th))
            if tw * th <= max_pixels and shape <= elongation + 1e-9:
                fits.append((shape, n // cols, cols))
        if fits:
            _, rows, cols = min(fits)  # the squarest tiles among the fewest
            return rows, cols
    raise ValueError(
        f"{width}x{height} needs more than {MAX_TILES} tiles of at most {max_pixels:,} pixels; "
        "give a grid such as --tiles 8x8, or a larger --max-pixels"
    )


def check_overlap(overlap: float) -> float:
    if not 0.0 <= overlap <= 0.9:
        raise ValueError(f"overlap must be a fraction in [0, 0.9], got {overlap}")
    return overlap


def plan_tiles(
    image_size: tuple[int, int],
    tiles: str | tuple[int, int] = "auto",
    *,
    overlap: float = 0.2,
    max_pixels: int | None = None,
    full: bool = True,
) -> TilePlan:
    """The windows to ask for an image of ``image_size`` (width, height).

    ``tiles`` is ``"auto"`` (the fewest tiles within ``max_pixels`` each, none more elongated
    than 2:1 or than the image, the squarest first; one tile when there is no cap or the
    image fits), ``"RxC"`` or ``(rows, cols)``. ``overlap`` is the fraction of
    a tile its neighbour shares, in [0, 0.9]. Tiles never exceed the image: a grid finer than
    the image's pixels is an error.
    """
    width, height = image_size
    check_overlap(overlap)
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    grid = parse_grid(tiles) if isinstance(tiles, str) else tiles
    rows, cols = grid if grid is not None else _auto_grid(width, height, overlap, max_pixels)
    rows, cols = min(rows, height), min(cols, width)  # a tiny image: no empty tiles
    tw, th = _span(width, cols, overlap), _span(height, rows, overlap)
    windows = [
        Window(x, y, tw, th) for y in _starts(height, th, rows) for x in _starts(width, tw, cols)
    ]
    if (rows, cols) != (1, 1) and full:
        windows.append(Window(0, 0, width, height, full=True))
    return TilePlan((width, height), (rows, cols), (tw, th), overlap, tuple(windows))
