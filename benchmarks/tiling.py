"""Tiled grounding, measured: recall and precision by object size, beside the requests spent.

Run by hand: ``python benchmarks/tiling.py`` (about a minute on 2 cores; ``--images 2`` for a
quick look). Writes the table to stdout and a small plot to ``benchmarks/tiling.png``.

The "model" is the resolution-limited FIXTURE server of ``tests/vision_server.py``: it reduces
every image it receives to 1024 px on the long side and reports each coloured rectangle still
at least 4 px big on both sides there (as a GLM-style answer). The scenes are synthetic
8000x6000 pictures with rectangles whose sides run from 15 px to 1500 px (log-uniform), so the
numbers measure the tiling (plan, cut, map back, merge), not a model. Sizes are sqrt(area) of
the true box; a prediction is a true positive when it overlaps an unmatched true box at
IoU >= 0.5.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grounding
from grounding import MergeOptions, Tiling
from tests.vision_server import VisionServer, draw_scene, random_scene

BUCKETS = [(15, 24), (24, 40), (40, 80), (80, 200), (200, 600), (600, 1500)]
GLM_CAP = 5_900_000


@dataclass
class Setting:
    name: str
    tiling: Tiling | None
    colour: tuple[int, int, int]
    tp: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS), int))
    truth: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS), int))
    pred_tp: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS), int))
    pred: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS), int))
    requests: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0


def bucket(sides: np.ndarray) -> np.ndarray:
    edges = np.array([b[0] for b in BUCKETS[1:]])
    return np.searchsorted(edges, sides, side="right")


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def score(setting: Setting, truth: np.ndarray, found: np.ndarray) -> None:
    """Greedy one-to-one matching at IoU >= 0.5, counted by size bucket."""
    truth_bucket = bucket(np.sqrt((truth[:, 2] - truth[:, 0]) * (truth[:, 3] - truth[:, 1])))
    found_bucket = bucket(np.sqrt((found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])))
    np.add.at(setting.truth, truth_bucket, 1)
    np.add.at(setting.pred, found_bucket, 1)
    if not len(found):
        return
    overlaps = pairwise_iou(truth, found)
    used_truth, used_found = set(), set()
    for t, f in sorted(np.argwhere(overlaps >= 0.5), key=lambda tf: -overlaps[tf[0], tf[1]]):
        if t in used_truth or f in used_found:
            continue
        used_truth.add(t)
        used_found.add(f)
        setting.tp[truth_bucket[t]] += 1
        setting.pred_tp[found_bucket[f]] += 1


def plot(settings: list[Setting], images: int, path: Path) -> None:
    """Recall by object size, one line per setting (Pillow only; small on purpose)."""
    width, height, left, bottom, top, right = 660, 330, 52, 50, 16, 210
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    x0, x1, y0, y1 = left, width - right, height - bottom, top
    draw.line([(x0, y0), (x1, y0)], fill="black")
    draw.line([(x0, y0), (x0, y1)], fill="black")
    for r in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y0 - r * (y0 - y1)
        draw.line([(x0 - 4, y), (x1, y)], fill=(225, 225, 225) if r else "black")
        draw.text((8, y - 6), f"{r:.2f}", fill="black")
    xs = [x0 + (i + 0.5) * (x1 - x0) / len(BUCKETS) for i in range(len(BUCKETS))]
    for x, (lo, hi) in zip(xs, BUCKETS, strict=True):
        draw.text((x - 22, y0 + 8), f"{lo}-{hi}", fill="black")
    draw.text((x0 + 120, height - 22), "object size, px (sqrt of area)", fill="black")
    draw.text((8, 0), "recall", fill="black")
    for k, s in enumerate(settings):
        recall = s.tp / np.maximum(s.truth, 1)
        points = [(x, y0 - r * (y0 - y1)) for x, r in zip(xs, recall, strict=True)]
        thick = len(settings) - k + 2  # later lines drawn thinner: overlaps stay visible
        draw.line(points, fill=s.colour, width=thick)
        ly = top + 8 + k * 36
        draw.line([(x1 + 12, ly + 6), (x1 + 34, ly + 6)], fill=s.colour, width=thick)
        draw.text((x1 + 40, ly), s.name, fill="black")
        precision = s.pred_tp.sum() / max(1, s.pred.sum())
        per_image = s.requests // max(1, images)
        draw.text((x1 + 40, ly + 13), f"{per_image} req/img, prec. {precision:.2f}", fill="grey")
    image.convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--objects", type=int, default=60)
    ap.add_argument("--input-side", type=int, default=1024)
    ap.add_argument("--min-pixels", type=float, default=4.0)
    ap.add_argument("--plot", type=Path, default=Path(__file__).with_name("tiling.png"))
    args = ap.parse_args()
    nmm = MergeOptions("greedy_nmm", "ios", 0.5)
    settings = [
        Setting("no tiles", None, (120, 120, 120)),
        Setting("2x2 tiles", Tiling("2x2", 0.2, full=False, merge=nmm), (70, 140, 220)),
        Setting("auto (3x4) tiles", Tiling("auto", 0.2, full=False, merge=nmm), (240, 150, 40)),
        Setting("auto + whole image", Tiling("auto", 0.2, full=True, merge=nmm), (200, 30, 30)),
        Setting(
            "auto + whole, NMS/IoU",
            Tiling("auto", 0.2, full=True, merge=MergeOptions("nms", "iou", 0.5)),
            (40, 160, 80),
        ),
    ]
    with (
        tempfile.TemporaryDirectory() as cache,
        VisionServer(args.input_side, args.min_pixels) as server,
    ):
        for seed in range(args.images):
            scene = random_scene(seed, (8000, 6000), count=args.objects)
            image = draw_scene(scene)
            truth = np.asarray(scene.boxes, dtype=float)
            for s in settings:  # interleaved: every setting sees every image in turn
                before, start = server.seen, time.perf_counter()
                result = grounding.detect(
                    image, "scratch", base_url=server.url, cache=f"{cache}/c.sqlite", tiles=s.tiling
                )
                s.seconds += time.perf_counter() - start
                plan = s.tiling.plan(image.size, "glm-4.5v") if s.tiling else None
                s.requests += plan.requests if plan else 1
                s.prompt_tokens += result.response.usage.prompt_tokens if result.response else 0
                assert server.seen - before <= (plan.requests if plan else 1)
                score(s, truth, result.boxes)
            print(f"image {seed + 1}/{args.images}: {len(truth)} objects", file=sys.stderr)
    n = args.images
    header = " | ".join(f"{lo}-{hi} px" for lo, hi in BUCKETS)
    objects = int(settings[0].truth.sum())
    print(f"\n{n} images of 8000x6000, {objects} objects; fixture model sees "
          f"{args.input_side} px, reports >= {args.min_pixels:g} px\n")  # fmt: skip
    print(f"| setting | requests/image | recall by size: {header} | recall | precision |")
    print("|---|---|" + "---|" * len(BUCKETS) + "---|---|")
    counts = " | ".join(str(v) for v in settings[0].truth)
    print(f"| (objects) | | {counts} | {objects} | |")
    for s in settings:
        recall = " | ".join(
            f"{tp / t:.2f}" if t else "-" for tp, t in zip(s.tp, s.truth, strict=True)
        )
        total_recall = s.tp.sum() / max(1, s.truth.sum())
        precision = s.pred_tp.sum() / max(1, s.pred.sum())
        print(
            f"| {s.name} | {s.requests / n:g} | {recall} | {total_recall:.3f} | {precision:.3f} |"
        )
    print("\nfalse positives by predicted size (the merge's failures):")
    for s in settings:
        fp = s.pred - s.pred_tp
        print(
            f"  {s.name}: "
            + ", ".join(f"{lo}-{hi}: {v}" for (lo, hi), v in zip(BUCKETS, fp, strict=True))
        )
    plot(settings, args.images, args.plot)
    print(f"\nwrote {args.plot} ({args.plot.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
