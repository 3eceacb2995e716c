"""Draw ``examples/photo.jpg``, the quick start's sample image (made here, not downloaded).

A 640x480 street scene: a red car on the left, a blue car on the right, a tree and a sun, so
"the red car", "the blue car" and "the tree" each have one clear answer.

    python examples/make_photo.py   # rewrites examples/photo.jpg (the same bytes every time)
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

# pixel boxes (x1, y1, x2, y2) of what the picture shows, for checking answers by eye
RED_CAR = (60, 270, 300, 390)
BLUE_CAR = (380, 290, 580, 390)
TREE = (480, 90, 600, 300)


def _car(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], colour: str) -> None:
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    wheel = height // 4
    draw.rounded_rectangle((x1, y1 + height * 0.4, x2, y2 - wheel), radius=12, fill=colour)
    draw.polygon(
        [(x1 + width * 0.2, y1 + height * 0.4), (x1 + width * 0.32, y1),
         (x1 + width * 0.7, y1), (x1 + width * 0.82, y1 + height * 0.4)],
        fill=colour,
    )  # fmt: skip
    draw.polygon(
        [(x1 + width * 0.27, y1 + height * 0.38), (x1 + width * 0.35, y1 + height * 0.08),
         (x1 + width * 0.67, y1 + height * 0.08), (x1 + width * 0.75, y1 + height * 0.38)],
        fill="#cfe8ff",
    )  # fmt: skip
    for cx in (x1 + width * 0.22, x2 - width * 0.22):
        draw.ellipse((cx - wheel, y2 - 2 * wheel, cx + wheel, y2), fill="#222222")


def make_photo() -> Image.Image:
    image = Image.new("RGB", (640, 480), "#87ceeb")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 330, 640, 480), fill="#555555")  # road
    draw.rectangle((0, 300, 640, 330), fill="#9acd32")  # verge
    draw.ellipse((40, 30, 120, 110), fill="#ffd700")  # sun
    x1, y1, x2, y2 = TREE
    draw.rectangle((x1 + 50, y1 + 120, x1 + 70, y2), fill="#8b5a2b")
    draw.ellipse((x1, y1, x2, y1 + 150), fill="#228b22")
    _car(draw, RED_CAR, "#d62728")
    _car(draw, BLUE_CAR, "#1f77b4")
    return image


if __name__ == "__main__":
    target = Path(__file__).with_name("photo.jpg")
    make_photo().save(target, quality=90)
    print(f"wrote {target}")
