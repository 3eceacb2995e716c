"""A FIXTURE: a scripted server that "sees" like a model with a fixed input resolution.

It is not a model. It reads the image of each request, reduces it to ``input_side`` pixels on
the long side (area averaging, as a vision encoder's resize does), and reports as a
GLM-style answer every coloured rectangle still at least ``min_pixels`` big on both sides
there. The synthetic scenes below encode objects that way: each class is a flat colour on a
grey background (``CLASS_COLORS``), so what the server can still see after the downscale is
exactly what a resolution-limited model would: small objects vanish, objects cut by a tile
border are reported as their visible part, two objects a few pixels apart blur into one.

It reuses ``tests/server.py`` (the HTTP machinery, the request log) without changing it, and
runs from tests and benchmarks alike::

    with VisionServer(input_side=1024) as server:
        grounding.detect(scene, "scratch", base_url=server.url, tiles="auto")

Run it by hand: ``python -m tests.vision_server --port 8766 --input-side 1024``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from tests.server import Reply, ScriptedServer, chat

__all__ = [
    "BACKGROUND",
    "CLASS_COLORS",
    "Scene",
    "VisionServer",
    "draw_scene",
    "random_scene",
    "see",
]

BACKGROUND = (128, 128, 128)
CLASS_COLORS: dict[str, tuple[int, int, int]] = {
    "scratch": (255, 0, 0),
    "dent": (0, 0, 255),
    "rust": (255, 160, 0),
}


def _coverage(pixels: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """How much of each pixel the class colour covers (0 = background, 1 = all), by projecting
    onto the background -> colour line (a downscaled pixel is a mix of the two)."""
    direction = np.asarray(color, dtype=np.float32) - np.asarray(BACKGROUND, dtype=np.float32)
    offset = pixels.astype(np.float32) - np.asarray(BACKGROUND, dtype=np.float32)
    return (offset @ direction) / float(direction @ direction)


def see(
    image: Image.Image,
    classes: Sequence[str],
    *,
    input_side: int = 1024,
    min_pixels: float = 3.0,
) -> list[tuple[str, tuple[float, float, float, float]]]:
    """What the fixture "model" reports: (label, box in 0-1000 of the image it received)."""
    from scipy import ndimage  # a dependency of supervision; used by this fixture only

    rgb = image.convert("RGB")
    scale = min(1.0, input_side / max(rgb.size))
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BOX)
    pixels = np.asarray(rgb)
    width, height = rgb.size
    found: list[tuple[str, tuple[float, float, float, float]]] = []
    for label in classes:
        mask = _coverage(pixels, CLASS_COLORS[label]) >= 0.5
        components, _ = ndimage.label(mask)
        for rows, cols in ndimage.find_objects(components):
            h, w = rows.stop - rows.start, cols.stop - cols.start
            if min(w, h) < min_pixels:
                continue
            found.append(
                (
                    label,
                    (
                        round(cols.start / width * 1000),
                        round(rows.start / height * 1000),
                        round(cols.stop / width * 1000),
                        round(rows.stop / height * 1000),
                    ),
                )
            )
    return found


def _image_and_text(body: Any) -> tuple[Image.Image, str]:
    content = body["messages"][0]["content"]
    url = next(part["image_url"]["url"] for part in content if part.get("type") == "image_url")
    text = " ".join(part.get("text", "") for part in content if part.get("type") == "text")
    data = base64.b64decode(url.split(",", 1)[1])
    return Image.open(io.BytesIO(data)), text


class VisionServer(ScriptedServer):
    """:class:`~tests.server.ScriptedServer` whose default answer is what :func:`see` finds
    for the classes the prompt names. ``seen`` counts the requests it answered."""

    def __init__(self, input_side: int = 1024, min_pixels: float = 3.0, port: int = 0) -> None:
        super().__init__(default=self._answer, port=port)
        self.input_side = input_side
        self.min_pixels = min_pixels
        self.seen = 0
        self._count = threading.Lock()

    def _answer(self, body: Any) -> Reply:
        image, text = _image_and_text(body)
        classes = [name for name in CLASS_COLORS if name in text.lower()]
        found = see(image, classes, input_side=self.input_side, min_pixels=self.min_pixels)
        with self._count:
            self.seen += 1
        answer = json.dumps([{"label": label, "bbox_2d": list(box)} for label, box in found])
        side = min(self.input_side, max(image.size))
        tokens = side * side * min(image.size) // max(image.size) // 784 + len(text) // 4
        return chat(f"<|begin_of_box|>{answer}<|end_of_box|>", usage=(tokens, 12 + 20 * len(found)))


@dataclass
class Scene:
    """A synthetic picture's truth: boxes (x1, y1, x2, y2, exclusive ends) and labels."""

    size: tuple[int, int]
    boxes: list[tuple[int, int, int, int]]
    labels: list[str]


def draw_scene(scene: Scene, *, shading: bool = True) -> Image.Image:
    """The picture: flat class colours on grey (the encoding :func:`see` reads).

    ``shading`` adds a faint grey gradient (no class colour: :func:`see` ignores it) so no
    two tiles are identical bytes; on a flat background empty tiles are, and the response
    cache then answers all but the first of them.
    """
    if shading:
        ramp = Image.linear_gradient("L").resize(scene.size, Image.Resampling.BILINEAR)
        grey = ramp.point(lambda v: BACKGROUND[0] - 24 + v * 48 // 255)
        image = Image.merge("RGB", (grey, grey, grey))
    else:
        image = Image.new("RGB", scene.size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    for (x1, y1, x2, y2), label in zip(scene.boxes, scene.labels, strict=True):
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=CLASS_COLORS[label])
    return image


def random_scene(
    seed: int,
    size: tuple[int, int] = (8000, 6000),
    *,
    count: int = 60,
    sides: tuple[float, float] = (15, 1500),
    labels: Sequence[str] = ("scratch",),
    gap: int = 160,
) -> Scene:
    """``count`` rectangles with sides log-uniform in ``sides``, at least ``gap`` apart."""
    rng = random.Random(seed)
    width, height = size
    boxes: list[tuple[int, int, int, int]] = []
    names: list[str] = []
    low, high = np.log(sides[0]), np.log(sides[1])
    for _ in range(count * 50):
        if len(boxes) == count:
            break
        w = round(float(np.exp(rng.uniform(low, high))))
        h = round(min(sides[1], max(sides[0], w * float(np.exp(rng.uniform(-0.7, 0.7))))))
        x, y = rng.randrange(0, width - w), rng.randrange(0, height - h)
        box = (x, y, x + w, y + h)
        if all(
            box[0] >= b[2] + gap
            or b[0] >= box[2] + gap
            or box[1] >= b[3] + gap
            or b[1] >= box[3] + gap
            for b in boxes
        ):
            boxes.append(box)
            names.append(rng.choice(list(labels)))
    return Scene(size, boxes, names)


def main() -> None:
    ap = argparse.ArgumentParser(description="Run the resolution-limited fixture server.")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--input-side", type=int, default=1024)
    ap.add_argument("--min-pixels", type=float, default=3.0)
    args = ap.parse_args()
    server = VisionServer(args.input_side, args.min_pixels, port=args.port).start()
    print(f"fixture vision server at {server.url} (sees {args.input_side} px); Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
