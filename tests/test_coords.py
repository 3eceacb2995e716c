from __future__ import annotations

import pytest

from grounding.coords import (
    UNIT,
    Frame,
    florence_frame,
    kosmos_patch_box,
    looks_unit_scaled,
    smart_resize,
)


@pytest.mark.parametrize(
    ("frame", "values", "size", "expected"),
    [
        # GLM 0-1000
        (Frame(1000, 1000), [500, 250], (640, 480), [320, 120]),
        # DeepSeek 0-999: 999 is the far edge
        (Frame(999, 999), [999, 999], (640, 480), [640, 480]),
        # PaliGemma: y first, /1024
        (Frame(1024, 1024, yx=True), [512, 256], (640, 480), [160, 240]),
        # Florence-2: bin centre
        (florence_frame(), [0, 999], (1000, 1000), [0.5, 999.5]),
        # percent (Molmo)
        (Frame(100, 100), [50, 25], (640, 480), [320, 120]),
        # resized-input pixels (Qwen2.5-VL): different scales per axis
        (Frame(1288, 952), [1288, 952], (1280, 960), [1280, 960]),
        # unit
        (UNIT, [0.5, 0.5], (10, 20), [5, 10]),
        # odd trailing value is ignored
        (UNIT, [0.5, 0.5, 0.9], (10, 20), [5, 10]),
    ],
)
def test_frame_pixels(frame: Frame, values: list, size: tuple, expected: list) -> None:
    assert frame.pixels(values, *size) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        # the corpus case: 1280x960
        (960, 1280, (952, 1288)),
        # already multiples of 28
        (280, 560, (280, 560)),
        # too large: scaled down under max_pixels (3584/28 lands just under 128 in floating
        # point, so the reference formula gives 127 * 28, as Qwen's own code does)
        (10000, 10000, (3556, 3556)),
        # too small: scaled up to min_pixels
        (10, 10, (56, 56)),
    ],
)
def test_smart_resize(height: int, width: int, expected: tuple) -> None:
    h, w = smart_resize(height, width)
    assert (h, w) == expected
    assert h % 28 == 0 and w % 28 == 0
    assert 3136 <= h * w <= 12845056


def test_smart_resize_rejects_empty_images() -> None:
    with pytest.raises(ValueError):
        smart_resize(0, 10)


@pytest.mark.parametrize(
    ("ul", "lr", "expected"),
    [
        # the spec example: different row and column -> cell centres
        (44, 863, (0.390625, 0.046875, 0.984375, 0.828125)),
        # same cell -> the whole cell
        (33, 33, (1 / 32, 1 / 32, 2 / 32, 2 / 32)),
        # same column -> whole cells
        (0, 992, (0, 0, 1 / 32, 1)),
    ],
)
def test_kosmos_patch_box(ul: int, lr: int, expected: tuple) -> None:
    assert kosmos_patch_box(ul, lr) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.1, 0.2, 0.3, 0.4], True),  # fractions
        ([0, 1, 1, 0], False),  # all integers: a 0-1000 box near the corner
        ([0.5, 2], False),  # out of [0, 1]
        ([0, 0.5], True),  # mixed
    ],
)
def test_unit_rule(values: list, expected: bool) -> None:
    assert looks_unit_scaled(values) is expected
