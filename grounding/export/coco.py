"""COCO where CVAT, datumaro and supervision look for it, loading in pycocotools too.

``coco/annotations/instances_<subset>.json`` beside ``coco/images/<subset>/`` (links to the
originals, or copies). Ids start at 1; ``bbox`` is ``[x, y, w, h]`` in pixels; a polygon keeps
its vertices as ``segmentation`` with its true ``area``; boxes have ``segmentation: []``.
Points have no place in a COCO instances file: they are in the CVAT and Label Studio exports.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from grounding.export._files import place_image
from grounding.export._shapes import ExportImage, area, bounds, px
from grounding.export._writer import Writer

__all__ = ["CocoWriter"]


@dataclass
class _Subset:
    images: IO[str]
    annotations: IO[str]
    count_images: int = 0
    count_annotations: int = 0
    predictions: IO[str] | None = None  # scored shapes, in pycocotools' results format
    count_predictions: int = 0


@dataclass
class CocoWriter(Writer):
    _subsets: dict[str, _Subset] = field(default_factory=dict)
    _image_id: int = 0
    _annotation_id: int = 0
    _points: int = 0

    @property
    def main(self) -> Path:
        return self.folder / "annotations"

    def _subset(self, name: str) -> _Subset:
        if name not in self._subsets:
            (self.folder / "annotations").mkdir(exist_ok=True)
            self._subsets[name] = _Subset(
                (self.folder / "annotations" / f".images_{name}").open("w+", encoding="utf-8"),
                (self.folder / "annotations" / f".annotations_{name}").open("w+", encoding="utf-8"),
            )
        return self._subsets[name]

    def add(self, image: ExportImage, names: list[str]) -> None:
        part = self._subset(image.subset)
        self._image_id += 1
        entry = {
            "id": self._image_id,
            "file_name": image.name,
            "width": image.width,
            "height": image.height,
        }
        part.images.write(("" if part.count_images == 0 else ", ") + json.dumps(entry))
        part.count_images += 1
        shapes: list[tuple[int, list[float], list[float]]] = [
            (index, box, []) for index, box in image.boxes
        ] + [
            (index, bounds(vertices), [c for vertex in vertices for c in vertex])
            for index, vertices in image.polygons
        ]
        for n, (index, (x1, y1, x2, y2), flat) in enumerate(shapes):
            self._annotation_id += 1
            polygon = n >= len(image.boxes)
            annotation = {
                "id": self._annotation_id,
                "image_id": self._image_id,
                "category_id": index + 1,
                "bbox": [x1, y1, px(x2 - x1), px(y2 - y1)],
                "area": px(area(image.polygons[n - len(image.boxes)][1]))
                if polygon
                else px((x2 - x1) * (y2 - y1)),
                "iscrowd": 0,
                "segmentation": [flat] if polygon else [],
            }
            part.annotations.write(
                ("" if part.count_annotations == 0 else ", ") + json.dumps(annotation)
            )
            part.count_annotations += 1
            score = (image.scores.boxes + image.scores.polygons)[n] if image.scores.known else None
            if score is not None:
                self._predict(part, image.subset, annotation, score)
        self._points += len(image.points)
        self.symlinked += place_image(
            image.row.source,
            self.folder / "images" / image.subset / image.name,
            self.options.copy_images,
        )

    def _predict(
        self, part: _Subset, subset: str, annotation: dict[str, Any], score: float
    ) -> None:
        if part.predictions is None:
            path = self.folder / "annotations" / f".predictions_{subset}"
            part.predictions = path.open("w+", encoding="utf-8")
        keys = ("image_id", "category_id", "bbox", "area", "segmentation")
        result = {k: annotation[k] for k in keys if annotation[k] != []} | {"score": score}
        part.predictions.write(("" if part.count_predictions == 0 else ", ") + json.dumps(result))
        part.count_predictions += 1

    def close(self, names: list[str]) -> None:
        info = {"description": "grounding auto-labels", "version": "1.0"}
        categories = [{"id": i + 1, "name": n, "supercategory": ""} for i, n in enumerate(names)]
        if not self._subsets:
            self._subset("train")  # an empty job still gives a loadable file
        for name, part in self._subsets.items():
            path = self.folder / "annotations" / f"instances_{name}.json"
            with path.open("w", encoding="utf-8") as out:
                out.write('{"info": ' + json.dumps(info) + ', "licenses": [], "images": [')
                part.images.seek(0)
                shutil.copyfileobj(part.images, out)
                out.write('], "annotations": [')
                part.annotations.seek(0)
                shutil.copyfileobj(part.annotations, out)
                out.write('], "categories": ' + json.dumps(categories) + "}\n")
            if part.predictions is not None:
                # the scored shapes as pycocotools' loadRes reads them: COCO(...).loadRes(path)
                scored = self.folder / "annotations" / f"predictions_{name}.json"
                with scored.open("w", encoding="utf-8") as out:
                    out.write("[")
                    part.predictions.seek(0)
                    shutil.copyfileobj(part.predictions, out)
                    out.write("]\n")
            for handle in (part.images, part.annotations, part.predictions):
                if handle is not None:
                    handle.close()
                    Path(handle.name).unlink(missing_ok=True)
        if self._points:
            self.notes.append(f"coco: {self._points} points not written (COCO instances hold none)")
