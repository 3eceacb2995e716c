"""The tile plan: grids, overlap, ``auto`` within the pixel cap, one-line errors."""

from __future__ import annotations

import itertools
import math

import pytest

from grounding.tiling import MAX_TILES, plan_tiles
from grounding.tiling._plan import _span

GLM = 5_900_000


@pytest.mark.parametrize(
    ("size", "tiles", "overlap", "cap", "full", "grid", "tile", "requests"),
    [
        ((8000, 6000), "auto", 0.2, GLM, True, (3, 4), (2353, 2308), 13),  # 48 MP at GLM's cap
        ((8000, 6000), "auto", 0.2, GLM, False, (3, 4), (2353, 2308), 12),  # no whole-image pass
        ((8000, 6000), "auto", 0.0, GLM, True, (3, 3), (2667, 2000), 10),  # no overlap: fewer
        ((9000, 9000), "auto", 0.2, GLM, True, (5, 4), (2648, 2143), 21),  # square photo
        ((20000, 1000), "auto", 0.2, GLM, True, (1, 4), (5883, 1000), 5),  # a panorama strip
        ((2000, 1500), "auto", 0.2, GLM, True, (1, 1), (2000, 1500), 1),  # fits: the image alone
        ((8000, 6000), "auto", 0.2, None, True, (1, 1), (8000, 6000), 1),  # no cap: the image alone
        ((8000, 6000), "2x2", 0.0, GLM, False, (2, 2), (4000, 3000), 4),  # exact halves
        ((8000, 6000), "1x3", 0.25, GLM, True, (1, 3), (3200, 6000), 4),  # RxC is rows x columns
        ((8000, 6000), (2, 3), 0.1, None, True, (2, 3), (2858, 3158), 7),  # a tuple grid
        ((3, 2), "4x4", 0.2, GLM, False, (2, 3), (2, 2), 6),  # a grid finer than the image: clamped
    ],
)
def test_plans(size, tiles, overlap, cap, full, grid, tile, requests) -> None:
    plan = plan_tiles(size, tiles, overlap=overlap, max_pixels=cap, full=full)
    assert (plan.grid, plan.tile_size, plan.requests) == (grid, tile, requests)


@pytest.mark.parametrize("size", [(8000, 6000), (6000, 8000), (9000, 9000), (12345, 4321), (5000, 3001)])
@pytest.mark.parametrize("overlap", [0.0, 0.2, 0.5])
def test_tiles_cover_the_image_share_the_overlap_and_fit_the_cap(size, overlap) -> None:
    width, height = size
    plan = plan_tiles(size, "auto", overlap=overlap, max_pixels=GLM, full=False)
    tw, th = plan.tile_size
    assert tw * th <= GLM
    covered_x = sorted({(w.x, w.x + w.width) for w in plan.windows})
    covered_y = sorted({(w.y, w.y + w.height) for w in plan.windows})
    for spans, length, tile in ((covered_x, width, tw), (covered_y, height, th)):
        assert spans[0][0] == 0 and spans[-1][1] == length
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end - start >= math.floor(overlap * tile)  # neighbours share the overlap
    # auto is the fewest tiles within the cap (among tiles no more elongated than 2:1 or the image)
    limit = math.log(max(2.0, width / height, height / width)) + 1e-9
    for rows in range(1, 30):
        for cols in range(1, 30):
            if rows * cols >= plan.requests:
                continue
            a, b = _span(width, cols, overlap), _span(height, rows, overlap)
            assert a * b > GLM or abs(math.log(a / b)) > limit, (rows, cols)


@pytest.mark.parametrize(
    ("tiles", "overlap", "message"),
    [
        ("3by4", 0.2, "expected auto or ROWSxCOLS"),  # not a grid
        ("0x3", 0.2, "at least 1"),  # an empty grid
        ("30x30", 0.2, f"over the limit of {MAX_TILES}"),  # a mistake, not a job
        ("2x2", 0.95, "overlap must be a fraction"),  # tiles would barely move
        ("2x2", -0.1, "overlap must be a fraction"),  # negative overlap
    ],
)
def test_bad_plans_fail_with_one_line(tiles, overlap, message) -> None:
    with pytest.raises(ValueError, match=message):
        plan_tiles((8000, 6000), tiles, overlap=overlap)


def test_a_cap_too_small_for_the_image_names_the_way_out() -> None:
    with pytest.raises(ValueError, match="give a grid such as --tiles"):
        plan_tiles((100_000, 100_000), "auto", max_pixels=10_000)
