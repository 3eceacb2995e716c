"""CVAT for images 1.1: ``cvat/annotations.xml`` with the images in ``cvat/images/`` beside it.

Boxes as ``<box>``, polygons as ``<polygon>``, points as ``<points>`` (one per point), in
pixels. Images carry no ``subset`` attribute: in a task file datumaro keeps only the images
whose subset is the file's name.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from grounding.export._files import place_image
from grounding.export._shapes import ExportImage, number
from grounding.export._writer import Writer

__all__ = ["CvatWriter"]


def _xy(x: float, y: float) -> str:
    return f"{number(x, 3)},{number(y, 3)}"


@dataclass
class CvatWriter(Writer):
    _images: IO[str] | None = None
    _count: int = 0
    _scored: bool = False

    @property
    def main(self) -> Path:
        return self.folder / "annotations.xml"

    def add(self, image: ExportImage, names: list[str]) -> None:
        if self._images is None:
            self._images = (self.folder / ".images.xml").open("w+", encoding="utf-8")
        common = 'occluded="0" source="auto" z_order="0"'
        scores = image.scores
        shapes = [
            f'\n    <box label={quoteattr(names[i])} xtl="{number(x1, 3)}" '
            f'ytl="{number(y1, 3)}" xbr="{number(x2, 3)}" ybr="{number(y2, 3)}" {common}'
            + self._score(scores.boxes, n, "box")
            for n, (i, (x1, y1, x2, y2)) in enumerate(image.boxes)
        ]
        shapes += [
            f"\n    <polygon label={quoteattr(names[i])} "
            f'points="{";".join(_xy(x, y) for x, y in vertices)}" {common}'
            + self._score(scores.polygons, n, "polygon")
            for n, (i, vertices) in enumerate(image.polygons)
        ]
        shapes += [
            f'\n    <points label={quoteattr(names[i])} points="{_xy(x, y)}" {common}'
            + self._score(scores.points, n, "points")
            for n, (i, (x, y)) in enumerate(image.points)
        ]
        self._images.write(
            f'  <image id="{self._count}" name={quoteattr(image.name)} width="{image.width}" '
            f'height="{image.height}">{"".join(shapes)}\n  </image>\n'
        )
        self._count += 1
        self.symlinked += place_image(
            image.row.source, self.folder / "images" / image.name, self.options.copy_images
        )

    def _score(self, scores: list[float | None], n: int, tag: str) -> str:
        """The element's end: with a ``score`` attribute when the shape has a confidence."""
        if n >= len(scores) or scores[n] is None:
            return "/>"
        self._scored = True
        return f'>\n      <attribute name="score">{scores[n]}</attribute>\n    </{tag}>'

    def close(self, names: list[str]) -> None:
        # a number attribute (min;max;step) as CVAT declares one, when any shape has a score
        attributes = (
            "<attributes><attribute><name>score</name><mutable>False</mutable>"
            "<input_type>number</input_type><default_value>0</default_value>"
            "<values>0;1;0.0001</values></attribute></attributes>"
            if self._scored
            else "<attributes/>"
        )
        labels = "".join(
            f"\n        <label><name>{escape(n)}</name><type>any</type>{attributes}</label>"
            for n in names
        )
        (self.folder / "images").mkdir(exist_ok=True)
        with (self.folder / "annotations.xml").open("w", encoding="utf-8") as out:
            out.write(
                '<?xml version="1.0" encoding="utf-8"?>\n'
                "<annotations>\n  <version>1.1</version>\n"
                "  <meta>\n    <task>\n      <name>grounding auto-labels</name>\n"
                f"      <size>{self._count}</size>\n      <mode>annotation</mode>\n"
                f"      <labels>{labels}\n      </labels>\n    </task>\n  </meta>\n"
            )
            if self._images is not None:
                self._images.seek(0)
                shutil.copyfileobj(self._images, out)
                self._images.close()
                (self.folder / ".images.xml").unlink()
            out.write("</annotations>\n")
