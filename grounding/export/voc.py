"""Pascal VOC in the devkit layout: ``Annotations/``, ``JPEGImages/``, ``ImageSets/Main/``.

One XML per image (``Annotations/<stem>.xml``) whose ``<filename>`` is the image's name in
``JPEGImages/`` (links or copies) and ``<path>`` the original file; ``ImageSets/Main/<subset>.txt``
lists the stems; ``labelmap.txt`` the classes (datumaro and CVAT read it). Boxes are 1-based
integer pixels (``xmin = round(x1) + 1``, ``xmax = round(x2)``, as supervision writes them), so
a loader that subtracts 1 from ``xmin`` (supervision; datumaro with
``coordinate_mode="voc-one-based"``) is within 0.5 px. A polygon is written as its bounding box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import IO
from xml.etree import ElementTree

from grounding.export._files import place_image
from grounding.export._names import ExportError
from grounding.export._shapes import ExportImage, bounds
from grounding.export._writer import Writer

__all__ = ["VocWriter"]


def _round(value: float) -> int:
    return math.floor(value + 0.5)  # half up, not Python's half-to-even


@dataclass
class VocWriter(Writer):
    _lists: dict[str, IO[str]] = field(default_factory=dict)
    _points: int = 0
    _polygons: int = 0

    def add(self, image: ExportImage, names: list[str]) -> None:
        w, h = image.width, image.height
        root = ElementTree.Element("annotation")
        for tag, text in (
            ("folder", "JPEGImages"),
            ("filename", image.name),
            ("path", image.row.source),
        ):
            ElementTree.SubElement(root, tag).text = text
        ElementTree.SubElement(ElementTree.SubElement(root, "source"), "database").text = "Unknown"
        size = ElementTree.SubElement(root, "size")
        for tag, value in (("width", w), ("height", h), ("depth", 3)):
            ElementTree.SubElement(size, tag).text = str(value)
        ElementTree.SubElement(root, "segmented").text = "0"
        shapes = image.boxes + [(i, bounds(v)) for i, v in image.polygons]
        for index, (x1, y1, x2, y2) in shapes:
            xmin, ymin = min(w, _round(x1) + 1), min(h, _round(y1) + 1)
            xmax, ymax = max(xmin, min(w, _round(x2))), max(ymin, min(h, _round(y2)))
            obj = ElementTree.SubElement(root, "object")
            for tag, text in (("name", names[index]), ("pose", "Unspecified"), ("truncated", "0"),
                              ("difficult", "0"), ("occluded", "0")):  # fmt: skip
                ElementTree.SubElement(obj, tag).text = text
            box = ElementTree.SubElement(obj, "bndbox")
            for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
                ElementTree.SubElement(box, tag).text = str(value)
        ElementTree.indent(root)
        annotations = self.folder / "Annotations"
        annotations.mkdir(exist_ok=True)
        ElementTree.ElementTree(root).write(annotations / f"{image.stem}.xml", encoding="utf-8")
        self._list(image.subset).write(image.stem + "\n")
        self._points += len(image.points)
        self._polygons += len(image.polygons)
        self.symlinked += place_image(
            image.row.source, self.folder / "JPEGImages" / image.name, self.options.copy_images
        )

    def _list(self, subset: str) -> IO[str]:
        if subset not in self._lists:
            folder = self.folder / "ImageSets" / "Main"
            folder.mkdir(parents=True, exist_ok=True)
            self._lists[subset] = (folder / f"{subset}.txt").open("w", encoding="utf-8")
        return self._lists[subset]

    def close(self, names: list[str]) -> None:
        self._list("train")  # an empty job still has its (empty) list
        for handle in self._lists.values():
            handle.close()
        bad = next((n for n in names if ":" in n), None)
        if bad is not None:
            raise ExportError(f"voc: class {bad!r} contains ':', which labelmap.txt cannot hold")
        lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
        lines += [f"{n}:::" for n in names if n != "background"]
        (self.folder / "labelmap.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if self._polygons:
            self.notes.append(f"voc: {self._polygons} polygons written as their bounding boxes")
        if self._points:
            self.notes.append(f"voc: {self._points} points not written (VOC holds none)")
