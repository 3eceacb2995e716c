"""Exports of a labeling job: COCO, YOLO, Pascal VOC, Label Studio and CVAT, plus failed.csv.

Written from the job store(s), streaming: rows are read page by page and merged across stores
in key order, so exporting a million images (or merging the stores of N shards) needs no
memory per image. Model labels are mapped onto the job's classes (see
:class:`~grounding.labeling.classes.ClassMatcher`); unmatched ones are counted and dropped, or
kept with ``keep_unknown``. Images are referenced where they are; the YOLO folder links them
(or copies them with ``copy_images``) so that it is ready to train on.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

from grounding.labeling.classes import ClassMatcher
from grounding.labeling.store import JobStore, Row

__all__ = ["FORMATS", "ExportSummary", "export_job"]

FORMATS = ("coco", "yolo", "voc", "labelstudio", "cvat")


@dataclass
class ExportSummary:
    """What was written."""

    images: int = 0
    boxes: int = 0
    unmatched: int = 0
    failed: int = 0
    files: dict[str, Path] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)


@dataclass
class _Image:
    row: Row
    width: int
    height: int
    boxes: list[tuple[int, list[float]]]  # (class index, [x1, y1, x2, y2])


def _merged(stores: Sequence[JobStore], *statuses: str) -> Iterator[Row]:
    """Rows of every store in key order; a key seen in several stores is taken once."""
    last = None
    for row in heapq.merge(*(s.rows(*statuses) for s in stores), key=lambda r: r.key):
        if row.key != last:
            last = row.key
            yield row


def _image_size(row: Row) -> tuple[int, int]:
    if row.width and row.height:
        return row.width, row.height
    from grounding.images import load_image

    image = load_image(row.source)
    return image.width, image.height


def _stem(key: str) -> str:
    """A relative output path for an image key (URLs: their last path part)."""
    if key.startswith(("http://", "https://")):
        key = key.split("?", 1)[0].rsplit("/", 1)[-1] or "image"
    return os.path.splitext(key.lstrip("/"))[0]


class _Classes:
    """The job's classes, then unknown labels in order of first appearance (keep_unknown)."""

    def __init__(self, classes: Sequence[str], keep_unknown: bool) -> None:
        self.names = list(classes)
        self.match = ClassMatcher(classes)
        self.keep_unknown = keep_unknown
        self.unmatched = 0

    def index(self, label: str | None) -> int | None:
        name = self.match(label)
        if name is None:
            if not self.keep_unknown:
                self.unmatched += 1
                return None
            name = (label or "unknown").strip() or "unknown"
            if name not in self.names:
                self.names.append(name)
        return self.names.index(name)


def _boxes(row: Row, width: int, height: int, classes: _Classes) -> list[tuple[int, list[float]]]:
    result = row.result or {}
    found: list[tuple[int, list[float]]] = []
    shapes = [(b["xyxy"], b.get("label")) for b in result.get("boxes", [])]
    for polygon in result.get("polygons", []):  # detection formats take a polygon's bounds
        xs = [p[0] for p in polygon["points"]]
        ys = [p[1] for p in polygon["points"]]
        if xs:
            shapes.append(([min(xs), min(ys), max(xs), max(ys)], polygon.get("label")))
    for xyxy, label in shapes:
        index = classes.index(label)
        if index is None:
            continue
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        box = [
            min(max(x1, 0.0), width),
            min(max(y1, 0.0), height),
            min(max(x2, 0.0), width),
            min(max(y2, 0.0), height),
        ]
        if box[2] > box[0] and box[3] > box[1]:
            found.append((index, box))
    return found


class _Writers:
    """Each format's per-image writing and its closing step."""

    def __init__(self, out: Path, formats: Sequence[str], options: dict[str, Any]) -> None:
        self.out = out
        self.formats = set(formats)
        self.o = options
        self._temps: list[IO[str]] = []
        self.image_id = 0
        self.annotation_id = 0
        if "coco" in self.formats:
            self.coco = (out / "coco.json").open("w", encoding="utf-8")
            info = {"description": "grounding auto-labels", "version": "1.0"}
            self.coco.write('{"info": ' + json.dumps(info) + ', "licenses": [], "images": [')
            self.coco_annotations = self._temp()
        if "labelstudio" in self.formats:
            self.ls = (out / "labelstudio.json").open("w", encoding="utf-8")
            self.ls.write("[")
        if "cvat" in self.formats:
            self.cvat_images = self._temp()

    def _temp(self) -> IO[str]:
        handle = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._temps.append(handle)
        return handle

    def write(self, image: _Image, names: list[str]) -> None:
        self.image_id += 1
        first = self.image_id == 1
        row, w, h = image.row, image.width, image.height
        if "coco" in self.formats:
            entry = {"id": self.image_id, "file_name": row.key, "width": w, "height": h}
            self.coco.write(("" if first else ", ") + json.dumps(entry))
            for index, (x1, y1, x2, y2) in image.boxes:
                self.annotation_id += 1
                ann = {
                    "id": self.annotation_id,
                    "image_id": self.image_id,
                    "category_id": index + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                    "segmentation": [],
                }
                self.coco_annotations.write(
                    ("" if self.annotation_id == 1 else ", ") + json.dumps(ann)
                )
        if "yolo" in self.formats:
            self._yolo(image)
        if "voc" in self.formats:
            self._voc(image, names)
        if "labelstudio" in self.formats:
            self._labelstudio(image, names, first)
        if "cvat" in self.formats:
            boxes = "".join(
                f'\n    <box label={quoteattr(names[i])} xtl="{x1:.2f}" ytl="{y1:.2f}" '
                f'xbr="{x2:.2f}" ybr="{y2:.2f}" occluded="0" source="auto" z_order="0"/>'
                for i, (x1, y1, x2, y2) in image.boxes
            )
            self.cvat_images.write(
                f'  <image id="{self.image_id - 1}" name={quoteattr(row.key)} width="{w}" '
                f'height="{h}">{boxes}\n  </image>\n'
            )

    def _yolo(self, image: _Image) -> None:
        stem = _stem(image.row.key)
        label_path = self.out / "yolo" / "labels" / f"{stem}.txt"
        label_path.parent.mkdir(parents=True, exist_ok=True)
        w, h = image.width, image.height
        lines = []
        for index, (x1, y1, x2, y2) in image.boxes:
            cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
            lines.append(f"{index} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}\n")
        label_path.write_text("".join(lines))
        source = image.row.source
        if not source.startswith(("http://", "https://")):
            suffix = os.path.splitext(source)[1]
            target = self.out / "yolo" / "images" / f"{stem}{suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() and not target.is_symlink():
                if self.o["copy_images"]:
                    shutil.copy2(source, target)
                else:
                    target.symlink_to(Path(source).resolve())

    def _voc(self, image: _Image, names: list[str]) -> None:
        row, w, h = image.row, image.width, image.height
        path = self.out / "voc" / f"{_stem(row.key)}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        folder, name = os.path.split(row.key)
        root = ElementTree.Element("annotation")
        for tag, text in (("folder", folder), ("filename", name), ("path", row.source)):
            ElementTree.SubElement(root, tag).text = text
        ElementTree.SubElement(ElementTree.SubElement(root, "source"), "database").text = "Unknown"
        size = ElementTree.SubElement(root, "size")
        for tag, value in (("width", w), ("height", h), ("depth", 3)):
            ElementTree.SubElement(size, tag).text = str(value)
        ElementTree.SubElement(root, "segmented").text = "0"
        for index, (x1, y1, x2, y2) in image.boxes:
            # 1-based, inclusive pixel indices: the pixels the continuous box covers
            xmin, ymin = max(1, math.floor(x1) + 1), max(1, math.floor(y1) + 1)
            xmax, ymax = min(w, max(xmin, math.ceil(x2))), min(h, max(ymin, math.ceil(y2)))
            obj = ElementTree.SubElement(root, "object")
            for tag, text in (("name", names[index]), ("pose", "Unspecified"),
                              ("truncated", "0"), ("difficult", "0")):  # fmt: skip
                ElementTree.SubElement(obj, tag).text = text
            box = ElementTree.SubElement(obj, "bndbox")
            for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
                ElementTree.SubElement(box, tag).text = str(value)
        ElementTree.indent(root)
        ElementTree.ElementTree(root).write(path, encoding="utf-8")

    def _labelstudio(self, image: _Image, names: list[str], first: bool) -> None:
        row, w, h = image.row, image.width, image.height
        url = (
            row.key
            if row.key.startswith(("http://", "https://"))
            else self.o["ls_image_prefix"] + row.key
        )
        results = [
            {
                "id": f"{self.image_id}-{n}",
                "type": "rectanglelabels",
                "from_name": self.o["ls_from_name"],
                "to_name": self.o["ls_to_name"],
                "original_width": w,
                "original_height": h,
                "image_rotation": 0,
                "value": {
                    "x": x1 / w * 100,
                    "y": y1 / h * 100,
                    "width": (x2 - x1) / w * 100,
                    "height": (y2 - y1) / h * 100,
                    "rotation": 0,
                    "rectanglelabels": [names[i]],
                },
            }
            for n, (i, (x1, y1, x2, y2)) in enumerate(image.boxes)
        ]
        task = {
            "data": {"image": url},
            "predictions": [
                {"model_version": self.o["model_version"], "score": 1.0, "result": results}
            ],
        }
        self.ls.write(("\n" if first else ",\n") + json.dumps(task, ensure_ascii=False))

    def close(self, names: list[str], summary: ExportSummary) -> None:
        if "coco" in self.formats:
            self.coco.write('], "annotations": [')
            self.coco_annotations.seek(0)
            shutil.copyfileobj(self.coco_annotations, self.coco)
            categories = [
                {"id": i + 1, "name": n, "supercategory": ""} for i, n in enumerate(names)
            ]
            self.coco.write('], "categories": ' + json.dumps(categories) + "}\n")
            self.coco.close()
            summary.files["coco"] = self.out / "coco.json"
        if "yolo" in self.formats:
            yolo = self.out / "yolo"
            yolo.mkdir(parents=True, exist_ok=True)
            lines = [
                f"path: {json.dumps(str(yolo.resolve()))}",
                "train: images",
                "val: images",
                "names:",
            ]
            lines += [f"  {i}: {json.dumps(n)}" for i, n in enumerate(names)]
            (yolo / "data.yaml").write_text("\n".join(lines) + "\n")
            summary.files["yolo"] = yolo / "data.yaml"
        if "voc" in self.formats:
            summary.files["voc"] = self.out / "voc"
        if "labelstudio" in self.formats:
            self.ls.write("\n]\n")
            self.ls.close()
            summary.files["labelstudio"] = self.out / "labelstudio.json"
        if "cvat" in self.formats:
            labels = "".join(
                f"\n        <label><name>{escape(n)}</name><type>rectangle</type></label>"
                for n in names
            )
            with (self.out / "cvat.xml").open("w", encoding="utf-8") as cvat:
                cvat.write(
                    '<?xml version="1.0" encoding="utf-8"?>\n'
                    "<annotations>\n  <version>1.1</version>\n"
                    f"  <meta>\n    <task>\n      <name>grounding auto-labels</name>\n"
                    f"      <size>{summary.images}</size>\n      <mode>annotation</mode>\n"
                    f"      <labels>{labels}\n      </labels>\n    </task>\n  </meta>\n"
                )
                self.cvat_images.seek(0)
                shutil.copyfileobj(self.cvat_images, cvat)
                cvat.write("</annotations>\n")
            summary.files["cvat"] = self.out / "cvat.xml"
        for handle in self._temps:
            with contextlib.suppress(OSError):
                handle.close()


def export_job(
    stores: Sequence[JobStore],
    out: str | Path,
    *,
    classes: Sequence[str],
    formats: Sequence[str] = ("coco",),
    keep_unknown: bool = False,
    copy_images: bool = False,
    ls_from_name: str = "label",
    ls_to_name: str = "image",
    ls_image_prefix: str = "/data/local-files/?d=",
    model_version: str = "grounding",
    on_image: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write ``formats`` into ``out`` from the done rows of ``stores``, and ``failed.csv``."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}: use {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = _Classes(classes, keep_unknown)
    summary = ExportSummary()
    writers = _Writers(
        out,
        formats,
        {
            "copy_images": copy_images,
            "ls_from_name": ls_from_name,
            "ls_to_name": ls_to_name,
            "ls_image_prefix": ls_image_prefix,
            "model_version": model_version,
        },
    )
    try:
        for row in _merged(stores, "done"):
            width, height = _image_size(row)
            image = _Image(row, width, height, _boxes(row, width, height, names))
            writers.write(image, names.names)
            summary.images += 1
            summary.boxes += len(image.boxes)
            if on_image is not None:
                on_image(summary.images)
    finally:
        writers.close(names.names, summary)
    with (out / "failed.csv").open("w", newline="", encoding="utf-8") as file:
        table = csv.writer(file)
        table.writerow(["key", "source", "status", "error"])
        for row in _merged(stores, "failed", "blocked"):
            table.writerow([row.key, row.source, row.status, row.error or ""])
            summary.failed += 1
    summary.files["failed"] = out / "failed.csv"
    summary.unmatched = names.unmatched
    summary.classes = list(names.names)
    return summary
