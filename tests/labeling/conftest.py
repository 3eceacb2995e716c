from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.server import Reply, chat

DETECTIONS = ('[{"label": "scratch-1", "bbox_2d": [100,100,400,400]}, {"label": "dents", "bbox_2d": [500,500,700,800]},'
              ' {"label": "rust", "bbox_2d": [10,10,60,60]}]')  # fmt: skip


def make_photos(root: Path, n: int = 200) -> list[str]:
    """``n`` distinct small photos in nested folders (mixed extensions and case), plus a
    corrupt JPEG, an empty PNG, a text file named .JPG and a non-image file."""
    keys = []
    for i in range(n):
        folder = root / f"line{i % 4}" / f"day{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part{i:03d}." + ("JPG" if i % 3 == 0 else "jpeg" if i % 3 == 1 else "png")
        Image.new("RGB", (96, 64), (i % 256, (i * 7) % 256, (i * 13) % 256)).save(folder / name, quality=95)
        keys.append(f"line{i % 4}/day{i % 7}/{name}")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "zero.png").write_bytes(b"")
    (root / "notes.JPG").write_text("meeting notes, not a picture")
    (root / "readme.md").write_text("ignored: not an image extension")
    return keys


def image_of(body) -> str:
    """The SHA-256 of the image a request carried (how the tests count requests per image)."""
    url = body["messages"][0]["content"][0]["image_url"]["url"]
    return hashlib.sha256(url.encode()).hexdigest()


def per_image(server) -> Counter:
    """Requests per image; a request cut off mid-upload (by a SIGKILL) carries no image."""
    return Counter(image_of(r.body) for r in server.chat_requests if isinstance(r.body, dict))


@pytest.fixture
def photos(tmp_path) -> tuple[Path, list[str]]:
    root = tmp_path / "photos"
    return root, make_photos(root)


def detections(delay: float = 0.0) -> Reply:
    return chat(DETECTIONS, delay=delay)


def coco(path: Path) -> dict:
    return json.loads(path.read_text())
