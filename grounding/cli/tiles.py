"""The tiling options shared by ``locate``, ``detect``, ``label`` and ``bench``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from grounding.tiling import MergeOptions, Tiling, parse_grid

__all__ = [
    "MergeMethod",
    "MergeMetric",
    "MergeThreshold",
    "Overlap",
    "PointDistance",
    "TileFull",
    "TileMaxPixels",
    "Tiles",
    "tiling_from",
]

_PANEL = "Tiling (small objects in big images)"

Tiles = Annotated[
    str | None,
    typer.Option(
        "--tiles",
        help="Ask about overlapping tiles at full resolution: auto (the fewest tiles within the "
        "model's pixel cap, so none is downscaled) or ROWSxCOLS such as 2x3 [default: no tiles].",
        rich_help_panel=_PANEL,
    ),
]
Overlap = Annotated[
    float,
    typer.Option(
        "--overlap", help="Fraction of a tile its neighbour shares (0-0.9).", rich_help_panel=_PANEL
    ),
]
TileFull = Annotated[
    bool,
    typer.Option(
        "--tile-full/--no-tile-full",
        help="Also ask about the whole image (finds objects larger than a tile in one piece).",
        rich_help_panel=_PANEL,
    ),
]
MergeMethod = Annotated[
    str,
    typer.Option(
        "--merge",
        help="How boxes from overlapping tiles join: greedy-nmm (SAHI's greedy non-maximum "
        "merging: pieces cut by a border become one box) or nms (keep the largest).",
        rich_help_panel=_PANEL,
    ),
]
MergeMetric = Annotated[
    str,
    typer.Option(
        "--merge-metric",
        help="ios (intersection over the smaller box) or iou.",
        rich_help_panel=_PANEL,
    ),
]
MergeThreshold = Annotated[
    float,
    typer.Option(
        "--merge-threshold",
        help="Boxes (and polygons) of a class match at metric >= this.",
        rich_help_panel=_PANEL,
    ),
]
PointDistance = Annotated[
    float | None,
    typer.Option(
        "--point-distance",
        help="Points of a class closer than this many pixels are one [default: 1% of the "
        "image's shorter side].",
        rich_help_panel=_PANEL,
    ),
]

TileMaxPixels = Annotated[
    int | None,
    typer.Option(
        "--tile-max-pixels",
        help="The pixel cap auto fits each tile into [default: the model profile's, e.g. "
        "5.9 MP for GLM; a model with none gets the whole image as one tile].",
        rich_help_panel=_PANEL,
    ),
]

_DEFAULTS: dict[str, Any] = {
    "overlap": 0.2,
    "tile_full": True,
    "merge": "greedy-nmm",
    "merge_metric": "ios",
    "merge_threshold": 0.5,
    "point_distance": None,
    "tile_max_pixels": None,
}
_METHODS = {"greedy-nmm": "greedy_nmm", "greedy_nmm": "greedy_nmm", "nms": "nms"}


def tiling_from(options: Mapping[str, Any]) -> Tiling | None:
    """The :class:`Tiling` the command's options ask for (None without ``--tiles``); a bad
    value is a one-line usage error naming its option."""
    tiles = options.get("tiles")
    if tiles is None:
        for name, default in _DEFAULTS.items():
            if options.get(name, default) != default:
                flag = "--no-tile-full" if name == "tile_full" else "--" + name.replace("_", "-")
                raise typer.BadParameter("only means something with --tiles", param_hint=flag)
        return None
    try:
        parse_grid(tiles)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tiles") from None
    overlap = options.get("overlap", 0.2)
    if not 0.0 <= overlap <= 0.9:
        raise typer.BadParameter("must be a fraction in [0, 0.9]", param_hint="--overlap")
    method = _METHODS.get(str(options.get("merge", "greedy-nmm")).lower())
    if method is None:
        raise typer.BadParameter("use greedy-nmm or nms", param_hint="--merge")
    metric = str(options.get("merge_metric", "ios")).lower()
    if metric not in ("ios", "iou"):
        raise typer.BadParameter("use ios or iou", param_hint="--merge-metric")
    threshold = options.get("merge_threshold", 0.5)
    if not 0.0 < threshold <= 1.0:
        raise typer.BadParameter("must be in (0, 1]", param_hint="--merge-threshold")
    distance = options.get("point_distance")
    if distance is not None and distance < 0:
        raise typer.BadParameter("must be at least 0", param_hint="--point-distance")
    max_pixels = options.get("tile_max_pixels")
    if max_pixels is not None and max_pixels < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--tile-max-pixels")
    merge = MergeOptions(method, metric, threshold, distance)  # type: ignore[arg-type]
    return Tiling(tiles, overlap, bool(options.get("tile_full", True)), merge, max_pixels)
