"""The tricky job every export test uses: fixture images with awkward names and every shape.

All images and answers here are fixtures written for tests, not real photos or model output.
Each image has its own colour, so the scripted server can tell which image a request carries.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from grounding.labeling import JobStore, find_images, register
from tests.server import Reply, chat

CLASSES = ["scratch", "dent"]


@dataclass(frozen=True)
class Case:
    key: str  # path under the input folder
    name: str  # the flat file name the export must give it
    answer: list[dict]  # the fixture answer, in GLM's 0-1000 frame
    size: tuple[int, int] = (64, 48)  # upright size


TRICKY = [
    # unicode and a space
    Case("ünïcödé/фото 1.jpg", "ünïcödé__фото 1.jpg", [{"label": "scratch", "bbox_2d": [100, 100, 500, 600]}]),
    # + # & % in names: URL-unsafe characters
    Case("a+b.jpg", "a+b.jpg", [{"label": "dent", "bbox_2d": [200, 150, 700, 900]}]),
    Case("c#1.jpg", "c#1.jpg", [{"label": "scratch", "bbox_2d": [50, 50, 950, 950]}]),
    Case("x&y=z.png", "x&y=z.png", [{"label": "dent", "bbox_2d": [10, 20, 300, 400]}]),
    Case("100% sure.png", "100% sure.png", [{"label": "scratch", "bbox_2d": [333, 333, 667, 667]}]),
    # the same file name in two folders
    Case("cam1/p.jpg", "cam1__p.jpg", [{"label": "scratch", "bbox_2d": [100, 200, 300, 400]}]),
    Case("cam2/p.jpg", "cam2__p.jpg", [{"label": "dent", "bbox_2d": [600, 500, 900, 800]}]),
    # the same stem with two extensions
    Case("x.jpg", "x.jpg", [{"label": "scratch", "bbox_2d": [111, 222, 555, 777]}]),
    Case("x.png", "x_png.png", [{"label": "dent", "bbox_2d": [400, 100, 800, 500]}]),
    # an input folder called images (and one called labels)
    Case("line/images/cam1/q.jpg", "line__images__cam1__q.jpg", [{"label": "dent", "bbox_2d": [250, 250, 750, 750]}]),
    Case("labels/r.png", "labels__r.png", [{"label": "scratch", "bbox_2d": [0, 0, 1000, 1000]}]),
    # an EXIF-rotated JPEG: stored 64x48 with orientation 6, upright 48x64
    Case("rotated.jpg", "rotated.jpg", [{"label": "scratch", "bbox_2d": [100, 500, 400, 900]}], size=(48, 64)),
    # an image without objects
    Case("empty.png", "empty.png", []),
    # a polygon answer and a point answer (with a box beside each)
    Case("poly.png", "poly.png", [{"label": "dent", "polygon": [[100, 100], [800, 150], [900, 850], [200, 700]]},
                                  {"label": "scratch", "bbox_2d": [400, 400, 600, 600]}]),
    Case("point.png", "point.png", [{"label": "scratch", "point_2d": [500, 250]},
                                    {"label": "dent", "bbox_2d": [100, 100, 200, 200]}]),
]  # fmt: skip


def colour(i: int) -> tuple[int, int, int]:
    return (15 + 16 * i, 128, 240 - 16 * i)


def make_tree(root: Path) -> None:
    """Write the fixture images of TRICKY under ``root``."""
    for i, case in enumerate(TRICKY):
        path = root / case.key
        path.parent.mkdir(parents=True, exist_ok=True)
        if case.key == "rotated.jpg":
            exif = Image.Exif()
            exif[0x0112] = 6  # rotate 90° clockwise to view: stored 64x48 shows as 48x64
            Image.new("RGB", (64, 48), colour(i)).save(path, quality=95, exif=exif)
        else:
            fmt = "JPEG" if path.suffix == ".jpg" else "PNG"
            Image.new("RGB", case.size, colour(i)).save(path, fmt, quality=95)


def answer_for(body: dict) -> Reply:
    """The scripted server's reply: the fixture answer of the image the request carries."""
    url = body["messages"][0]["content"][0]["image_url"]["url"]
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    got = image.getpixel((image.width // 2, image.height // 2))
    index = min(range(len(TRICKY)), key=lambda i: sum(abs(a - b) for a, b in zip(colour(i), got, strict=True)))
    return chat(json.dumps(TRICKY[index].answer))


def _pixels(case: Case) -> dict:
    """The answer in pixels of the upright image, as the job would store it."""
    w, h = case.size
    result: dict = {"boxes": [], "points": [], "polygons": []}
    for item in case.answer:
        if "bbox_2d" in item:
            x1, y1, x2, y2 = item["bbox_2d"]
            result["boxes"].append({"xyxy": [x1 * w / 1000, y1 * h / 1000, x2 * w / 1000, y2 * h / 1000],
                                    "label": item["label"]})  # fmt: skip
        elif "polygon" in item:
            result["polygons"].append({"points": [[x * w / 1000, y * h / 1000] for x, y in item["polygon"]],
                                       "label": item["label"]})  # fmt: skip
        else:
            x, y = item["point_2d"]
            result["points"].append({"xy": [x * w / 1000, y * h / 1000], "label": item["label"]})
    return result


def store_job(root: Path, out: Path) -> Path:
    """The job store of TRICKY written directly (no model, no server): every image done."""
    by_key = {case.key: case for case in TRICKY}
    with JobStore(out / "job.sqlite") as store:
        store.set_meta("job", {"classes": CLASSES, "prompt": "fixture", "model": "glm-4.5v"})
        register(store, find_images([str(root)]), None)
        for row in store.rows():
            case = by_key[row.key]
            store.finish(row.key, status="done", result=_pixels(case), size=case.size)
    return out / "job.sqlite"


@pytest.fixture
def tricky(tmp_path) -> tuple[Path, Path]:
    """(input folder, output folder with job.sqlite) of the tricky job, written directly."""
    root, out = tmp_path / "photos", tmp_path / "out"
    make_tree(root)
    store_job(root, out)
    return root, out
