"""Tiled grounding end to end against the resolution-limited fixture server
(``tests/vision_server.py``: it "sees" each image at 512 px on the long side and reports
rectangles still at least 4 px big there).

The scene is 4000x3000 and tiles are capped at 1.475 MP (GLM's 5.9 MP, a quarter: the same
geometry as an 8000x6000 photo at GLM's cap, at a quarter of the test's CPU). Untiled, the
fixture sees the scene at 0.128x and 10-12 px scratches vanish; ``auto`` gives 3x4 tiles it
sees at 0.435x. ``benchmarks/tiling.py`` measures the full-size case.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import grounding
from grounding import MergeOptions
from grounding.cli import app
from tests.vision_server import Scene, VisionServer, draw_scene

CAP = 1_475_000
SMALL = [
    (250, 250, 262, 262),  # inside one tile
    (1000, 500, 1012, 512),  # in the overlap of two tiles: seen twice, must be one
    (2000, 1000, 2012, 1012),  # in the overlap of four tiles
    (3500, 2750, 3512, 2762),
    (1500, 2250, 1512, 2262),
    (500, 1500, 524, 1510),  # a thin scratch
]
MEDIUM = (2500, 2250, 2600, 2325)
LARGE = (750, 750, 1500, 1350)  # crosses two column and two row borders of the 3x4 plan
SCENE = Scene((4000, 3000), [*SMALL, MEDIUM, LARGE], ["scratch"] * 8)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A folder ``big/`` with the scene as a PNG (a fixture picture, not a photo)."""
    folder = tmp_path_factory.mktemp("tiling") / "big"
    folder.mkdir()
    draw_scene(SCENE).save(folder / "scene.png", compress_level=1)
    return folder


@pytest.fixture
def vision():
    with VisionServer(input_side=512, min_pixels=4) as server:
        yield server


def iou(a, b) -> np.ndarray:
    """The IoU of every box of ``a`` with every box of ``b``."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    inter = (np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
             * np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None))
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def matched(boxes: np.ndarray, truth, threshold: float = 0.5) -> list[bool]:
    """For each true box: does some found box overlap it at IoU >= threshold?"""
    if not len(boxes):
        return [False] * len(truth)
    return [bool(row.max() >= threshold) for row in iou(truth, boxes)]


def test_tiles_find_the_small_scratches_the_whole_image_misses(big, vision) -> None:
    image = big / "scene.png"
    whole = grounding.detect(image, "scratch", base_url=vision.url, cache=True)
    assert vision.seen == 1
    assert matched(whole.boxes, SMALL) == [False] * len(SMALL)  # too small at 512 px
    assert matched(whole.boxes, [MEDIUM, LARGE]) == [True, True]

    tiling = grounding.Tiling("auto", overlap=0.2, max_pixels=CAP)
    tiled = grounding.detect(image, "scratch", base_url=vision.url, cache=True, tiles=tiling)
    assert vision.seen == 1 + 12  # 3x4 tiles; the whole image is the untiled request, cached
    assert matched(tiled.boxes, SMALL) == [True] * len(SMALL)
    assert len(tiled.boxes) == len(SCENE.boxes)  # nothing twice, the large one in one piece
    assert iou([LARGE], tiled.boxes).max() >= 0.95
    for truth in SMALL:  # mapped back to pixels of the original within a few pixels
        assert np.abs(tiled.boxes - np.asarray(truth, float)).max(axis=1).min() <= 4
    assert tiled.labels == ["scratch"] * len(tiled.boxes)
    assert tiled.image_size == (4000, 3000)
    assert tiled.response is not None and tiled.response.usage.prompt_tokens > 0

    # another merge setting: every tile comes from the cache, nothing is sent
    nms = grounding.Tiling("auto", overlap=0.2, max_pixels=CAP, merge=MergeOptions("nms", "iou", 0.5))
    again = grounding.detect(image, "scratch", base_url=vision.url, cache=True, tiles=nms)
    assert vision.seen == 13 and again.response is not None and again.response.cached
    # NMS by IoU keeps the large object's pieces apart: the merge setting took effect
    assert len(again.boxes) > len(tiled.boxes)

    # the async twin gives the same answer, from the cache too
    twin = asyncio.run(grounding.adetect(image, ["scratch"], base_url=vision.url, cache=True, tiles=tiling))
    assert twin == tiled and vision.seen == 13


def test_without_the_whole_image_large_objects_come_from_merged_pieces(big, vision) -> None:
    tiling = grounding.Tiling("auto", overlap=0.2, full=False, max_pixels=CAP,
                              merge=MergeOptions("greedy_nmm", "ios", 0.2))  # fmt: skip
    tiled = grounding.detect(big / "scene.png", "scratch", base_url=vision.url, tiles=tiling)
    assert vision.seen == 12
    assert matched(tiled.boxes, [*SMALL, MEDIUM, LARGE]) == [True] * 8
    assert len(tiled.boxes) == len(SCENE.boxes)


def cli(*args: str):
    result = CliRunner().invoke(app, list(args))
    result.output_text = result.stdout + result.stderr  # type: ignore[attr-defined]
    return result


def test_detect_cli_with_tiles(big, vision) -> None:
    run = cli("detect", str(big / "scene.png"), "-c", "scratch", "--tiles", "auto", "--tile-max-pixels", str(CAP),
              "--json", "--base-url", vision.url)  # fmt: skip
    assert run.exit_code == 0, run.output_text
    assert len(json.loads(run.stdout)["boxes"]) == len(SCENE.boxes) and vision.seen == 13
    bad = cli("detect", str(big / "scene.png"), "-c", "scratch", "--tiles", "3by4", "--base-url", vision.url)
    assert bad.exit_code == 2 and "--tiles" in bad.output_text and "ROWSxCOLS" in bad.output_text


def coco_boxes(out) -> np.ndarray:
    """Every box of every COCO subset exported into the job folder ``out``."""
    boxes = [
        [x, y, x + w, y + h]
        for path in (out / "coco" / "annotations").glob("instances_*.json")
        for x, y, w, h in (a["bbox"] for a in json.loads(path.read_text())["annotations"])
    ]
    return np.asarray(boxes).reshape(-1, 4)


def test_label_big_folder_with_tiles_finds_what_the_untiled_run_misses(big, vision, tmp_path) -> None:
    common = [str(big), "--classes", "scratch", "--base-url", vision.url]
    untiled = cli("label", *common, "--out", str(tmp_path / "plain"))
    assert untiled.exit_code == 0, untiled.output_text
    plain = coco_boxes(tmp_path / "plain")
    assert matched(plain, SMALL) == [False] * len(SMALL) and vision.seen == 1

    tiles = ["--tiles", "auto", "--tile-max-pixels", str(CAP)]
    tiled = cli("label", *common, "--out", str(tmp_path / "tiled"), *tiles)
    assert tiled.exit_code == 0, tiled.output_text
    found = coco_boxes(tmp_path / "tiled")
    assert matched(found, SMALL) == [True] * len(SMALL)
    assert len(found) == len(SCENE.boxes)  # the large scratch is one box, nothing counted twice
    assert vision.seen == 1 + 12  # the whole-image answer came from the untiled run's cache

    # resuming the job with other tiling settings would mix two kinds of labels: refused
    other = cli("label", *common, "--out", str(tmp_path / "tiled"), "--tiles", "2x2")
    assert other.exit_code == 2 and "other tiling settings" in other.output_text


def test_label_dry_run_lists_the_tile_plan_and_the_cost_cap_counts_tiles(big, vision, tmp_path) -> None:
    job = [str(big), "--classes", "scratch", "--base-url", vision.url, "--price-in", "1", "--price-out", "1"]
    common = [*job, "--out", str(tmp_path / "o")]
    tiles = ["--tiles", "auto", "--tile-max-pixels", str(CAP)]
    plain = cli("label", *common, "--dry-run")
    tiled = cli("label", *common, "--dry-run", *tiles)
    assert plain.exit_code == 0 and tiled.exit_code == 0, tiled.output_text
    assert "4000x3000: 3x4 tiles of 1177x1154 + whole image (13 requests)" in tiled.stdout

    def tokens(output: str) -> int:
        line = next(line for line in output.splitlines() if "estimated tokens" in line)
        return int(line.split("estimated tokens")[1].split(" in")[0].strip(" │|").replace(",", ""))

    assert tokens(tiled.stdout) > 3 * tokens(plain.stdout)
    assert vision.seen == 0
    # a cap one whole image fits under but its 13 requests do not: nothing is sent
    capped = cli("label", *common, *tiles, "--max-cost", "0.015")
    assert capped.exit_code == 3 and "cost limit" in capped.output_text and vision.seen == 0
    fits = cli("label", *job, "--out", str(tmp_path / "untiled"), "--max-cost", "0.015")
    assert fits.exit_code == 0, fits.output_text
    assert vision.seen == 1


def test_bench_with_tiles_scores_the_merged_boxes(big, vision, tmp_path) -> None:
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    (root / "images" / "scene.png").symlink_to(big / "scene.png")
    instances = {
        "images": [{"id": 1, "file_name": "scene.png", "width": 4000, "height": 3000}],
        "categories": [{"id": 1, "name": "scratch"}],
        "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": (x2 - x1) * (y2 - y1),
                         "bbox": [x1, y1, x2 - x1, y2 - y1]} for i, (x1, y1, x2, y2) in enumerate(SCENE.boxes)],
    }  # fmt: skip
    (root / "instances.json").write_text(json.dumps(instances))
    common = ["bench", "coco", "--root", str(root), "-s", "val", "--base-url", vision.url]
    plain = cli(*common, "-o", str(tmp_path / "plain"))
    tiled = cli(*common, "-o", str(tmp_path / "tiled"), "--tiles", "auto", "--tile-max-pixels", str(CAP))
    assert plain.exit_code == 0 and tiled.exit_code == 0, tiled.output_text
    scores = {name: json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("plain", "tiled")}
    assert scores["plain"]["splits"]["val"]["recall@0.5"] == pytest.approx(2 / 8)
    assert scores["tiled"]["splits"]["val"]["recall@0.5"] == 1.0
    assert scores["tiled"]["splits"]["val"]["precision@0.5"] == 1.0
    assert scores["tiled"]["config"]["tiling"]["tiles"] == "auto"
    line = json.loads((tmp_path / "tiled" / "predictions.jsonl").read_text().splitlines()[0])
    assert len(line["boxes"]) == 8 and "response" not in line  # merged pixels, not a tile answer


def test_locate_with_tiles(big, vision) -> None:
    tiling = grounding.Tiling("auto", overlap=0.2, full=False, max_pixels=CAP)
    result = grounding.locate(big / "scene.png", "the scratch", base_url=vision.url, tiles=tiling)
    assert matched(result.boxes, SMALL) == [True] * len(SMALL) and vision.seen == 12


def test_a_failing_tile_fails_its_image_and_the_retry_reuses_the_answered_tiles(big, vision, tmp_path) -> None:
    from tests.server import error

    vision.script(error(400, "1210", "fixture: a bad request for one tile"))
    args = [str(big), "--classes", "scratch", "--base-url", vision.url, "--out", str(tmp_path / "o"),
            "--tiles", "auto", "--tile-max-pixels", str(CAP), "-k", "1"]  # fmt: skip
    first = cli("label", *args)
    assert first.exit_code == 0, first.output_text  # a per-image failure: recorded, job goes on
    failed = (tmp_path / "o" / "failed.csv").read_text()
    assert "scene.png" in failed and "fixture: a bad request" in failed
    sent = len(vision.chat_requests)
    retry = cli("label", *args, "--retry-failed")
    assert retry.exit_code == 0, retry.output_text
    assert len(coco_boxes(tmp_path / "o")) == len(SCENE.boxes)
    # the other tiles finished before the image failed and come from the cache now
    assert sent == 13 and len(vision.chat_requests) - sent == 1


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--overlap", "0.3"], "--overlap"),  # a tiling option without --tiles
        (["--no-tile-full"], "--no-tile-full"),  # likewise
        (["--tiles", "auto", "--overlap", "0.95"], "--overlap"),  # tiles would barely move
        (["--tiles", "auto", "--merge", "wbf"], "--merge"),  # not a merge we have
        (["--tiles", "auto", "--merge-metric", "giou"], "--merge-metric"),
        (["--tiles", "auto", "--merge-threshold", "0"], "--merge-threshold"),
        (["--tiles", "40x40"], "--tiles"),  # 1600 tiles: a mistake, not a job
    ],
)
def test_bad_tiling_options_exit_2_naming_the_option(args, hint, tmp_path) -> None:
    run = cli("detect", str(tmp_path / "any.png"), "-c", "scratch", "--base-url", "http://127.0.0.1:9/v1", *args)
    assert run.exit_code == 2 and hint in run.output_text, run.output_text


def test_a_bad_grid_fails_when_the_settings_are_made() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        grounding.Tiling((0, 3))
    with pytest.raises(ValueError, match="overlap"):
        grounding.Tiling("auto", overlap=1.5)


class NamingServer(VisionServer):
    """The fixture vision server, but it names the class "Scratches" when it gets the whole
    image and "scratch-1" on tiles (models vary their labels like this)."""

    def _answer(self, body):
        from tests.vision_server import _image_and_text

        reply = super()._answer(body)
        image, _ = _image_and_text(body)
        name = "Scratches" if max(image.size) > 1500 else "scratch-1"
        message = reply.body["choices"][0]["message"]
        message["content"] = message["content"].replace('"scratch"', f'"{name}"')
        return reply


def test_labels_are_mapped_onto_the_classes_before_tiles_merge(big, tmp_path) -> None:
    tiling = grounding.Tiling("auto", overlap=0.2, max_pixels=CAP)
    with NamingServer(input_side=512, min_pixels=4) as server:
        result = grounding.detect(big / "scene.png", "scratch", base_url=server.url, tiles=tiling, cache=True)
        assert len(result.boxes) == len(SCENE.boxes) and set(result.labels) == {"scratch"}
        run = cli("label", str(big), "--classes", "scratch", "--base-url", server.url, "--out", str(tmp_path / "o"),
                  "--tiles", "auto", "--tile-max-pixels", str(CAP))  # fmt: skip
        assert run.exit_code == 0, run.output_text
        assert len(coco_boxes(tmp_path / "o")) == len(SCENE.boxes)  # not the large one twice
