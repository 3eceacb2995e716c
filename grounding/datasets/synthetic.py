"""A synthetic RefCOCO-layout dataset: coloured shapes with unambiguous referring expressions.

For tests and demos: ``write_synthetic(out, n=200, seed=0)`` renders images of 2-4 shapes,
writes ``instances.json`` (COCO format) and ``refs(unc).p`` (a plain-data pickle of refs with
splits train / val / testA / testB), deterministic by seed. Each colour+shape pair occurs at
most once per image, so "the red circle left of the blue square" names exactly one object.

>>> import tempfile
>>> root = write_synthetic(tempfile.mkdtemp(), n=4, seed=1)
>>> sorted(p.name for p in root.iterdir())
['images', 'instances.json', 'refs(unc).p']
"""

from __future__ import annotations

import json
import pickle
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

__all__ = ["COLOURS", "SHAPES", "write_synthetic"]

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 200, 30),
    "purple": (150, 60, 190),
}
SHAPES = ("circle", "square", "triangle")
SPLITS = ("train", "train", "val", "testA", "testB")
SIZES = ((640, 480), (480, 640), (800, 600), (512, 512))


def _draw(
    draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], rgb: tuple[int, int, int]
) -> None:
    x1, y1, x2, y2 = box
    if shape == "circle":
        draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=rgb)
    elif shape == "square":
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=rgb)
    else:
        draw.polygon([(x1, y2 - 1), ((x1 + x2) // 2, y1), (x2 - 1, y2 - 1)], fill=rgb)


def _relation(target: tuple[float, float], other: tuple[float, float]) -> str:
    dx, dy = other[0] - target[0], other[1] - target[1]
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def write_synthetic(
    out: str | Path,
    n: int = 200,
    *,
    seed: int = 0,
    images: bool = True,
    on_image: Callable[[int], None] | None = None,
) -> Path:
    """Write ``n`` images (one ref each, 1-2 sentences) under ``out``; returns ``out``.

    ``images=False`` writes only the annotations (enough for ``grounding score``);
    ``on_image`` is called with the count so far, for progress bars.
    """
    root = Path(out)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    coco: dict[str, Any] = {
        "info": {"description": "grounding synthetic shapes", "version": "1"},
        "licenses": [],
        "images": [],
        "annotations": [],
        "categories": [
            {"id": i + 1, "name": s, "supercategory": "shape"} for i, s in enumerate(SHAPES)
        ],
    }
    refs = []
    sent_id = ann_id = 0
    for image_id in range(1, n + 1):
        width, height = rng.choice(SIZES)
        pairs = rng.sample([(c, s) for c in COLOURS for s in SHAPES], rng.randint(2, 4))
        placed: list[tuple[str, str, tuple[int, int, int, int]]] = []
        cells = rng.sample(range(4), len(pairs))  # one object per quadrant: never overlapping
        for (colour, shape), cell in zip(pairs, cells, strict=True):
            cw, ch = width // 2, height // 2
            side = rng.randint(min(cw, ch) // 3, min(cw, ch) - 20)
            x1 = (cell % 2) * cw + rng.randint(5, cw - side - 5)
            y1 = (cell // 2) * ch + rng.randint(5, ch - side - 5)
            placed.append((colour, shape, (x1, y1, x1 + side, y1 + side)))
        name = f"{image_id:06d}.jpg"
        if images:
            picture = Image.new("RGB", (width, height), (235, 235, 228))
            draw = ImageDraw.Draw(picture)
            for colour, shape, box in placed:
                _draw(draw, shape, box, COLOURS[colour])
            picture.save(root / "images" / name, quality=92)
        coco["images"].append({"id": image_id, "file_name": name, "width": width, "height": height})
        first_ann = ann_id + 1
        for _, shape, (x1, y1, x2, y2) in placed:
            ann_id += 1
            coco["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": SHAPES.index(shape) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
        target = rng.randrange(len(placed))
        colour, shape, box = placed[target]
        other_colour, other_shape, other_box = placed[(target + 1) % len(placed)]
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        other_centre = ((other_box[0] + other_box[2]) / 2, (other_box[1] + other_box[3]) / 2)
        phrases = [
            f"the {colour} {shape}",
            f"the {colour} {shape} {_relation(centre, other_centre)} "
            f"the {other_colour} {other_shape}",
        ]
        sentences = []
        for text in phrases[: rng.randint(1, 2)]:
            sent_id += 1
            sentences.append(
                {"sent_id": sent_id, "sent": text, "raw": text, "tokens": text.split()}
            )
        refs.append(
            {
                "ref_id": image_id,
                "ann_id": first_ann + target,
                "image_id": image_id,
                "category_id": SHAPES.index(shape) + 1,
                "split": rng.choice(SPLITS),
                "sent_ids": [s["sent_id"] for s in sentences],
                "sentences": sentences,
            }
        )
        if on_image is not None:
            on_image(image_id)
    (root / "instances.json").write_text(json.dumps(coco))
    with (root / "refs(unc).p").open("wb") as file:
        pickle.dump(refs, file, protocol=2)
    return root
