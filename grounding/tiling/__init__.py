"""Tiled grounding: see small things in big images (SAHI-style slicing for VLMs).

Large inspection and remote-sensing photos are downscaled to a model's pixel cap, so a 20 px
scratch in a 9000 px photo shrinks to a few pixels and is missed. Tiling asks the model about
overlapping windows at full resolution (and, optionally, the whole image for large objects),
maps each answer back to pixels of the original and merges objects seen twice or cut by a
tile border.

>>> import grounding
>>> result = grounding.detect("big.jpg", "scratch", tiles="auto", overlap=0.2)  # doctest: +SKIP
>>> plan_tiles((8000, 6000), "auto", max_pixels=5_900_000).describe()
'8000x6000: 3x4 tiles of 2353x2308 + whole image (13 requests)'
"""

from __future__ import annotations

from grounding.tiling._cost import estimate_tiled_tokens
from grounding.tiling._merge import (
    MergeOptions,
    greedy_nmm,
    merge_boxes,
    merge_labelled_boxes,
    merge_points,
    merge_polygons,
    nms,
    pairwise,
)
from grounding.tiling._plan import MAX_TILES, TilePlan, Window, parse_grid, plan_tiles
from grounding.tiling._run import (
    Tiling,
    aground_tiled,
    aground_with_tiles,
    combine,
    cut,
    ground_tiled,
    ground_with_tiles,
)

__all__ = [
    "MAX_TILES",
    "MergeOptions",
    "TilePlan",
    "Tiling",
    "Window",
    "aground_tiled",
    "aground_with_tiles",
    "combine",
    "cut",
    "estimate_tiled_tokens",
    "greedy_nmm",
    "ground_tiled",
    "ground_with_tiles",
    "merge_boxes",
    "merge_labelled_boxes",
    "merge_points",
    "merge_polygons",
    "nms",
    "pairwise",
    "parse_grid",
    "plan_tiles",
]
