"""YOLO in the Ultralytics layout: ``images/<subset>/`` and ``labels/<subset>/`` side by side.

``yolo`` is a detection dataset (``class cx cy w h``, normalized; a polygon as its bounding
box); ``yolo-seg`` a segmentation dataset (``class x1 y1 x2 y2 ...``; a box as its four
corners). ``data.yaml`` has no ``path:``: Ultralytics then resolves ``train``/``val`` against
the yaml's own folder, so the dataset still works after it is moved or copied (a relative
``path:`` would be resolved against Ultralytics' datasets folder instead). Without a
validation split ``val`` names the training images, and the yaml says so. Points have no place
in either file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from grounding.export._files import place_image
from grounding.export._shapes import ExportImage, bounds, number
from grounding.export._writer import Writer

__all__ = ["YoloWriter"]

DIGITS = 8  # normalized: 1e-8 keeps 0.01 px on images up to 1,000,000 px wide


@dataclass
class YoloWriter(Writer):
    segments: bool = False
    _subsets: set[str] = field(default_factory=set)
    _points: int = 0

    @property
    def main(self) -> Path:
        return self.folder / "data.yaml"

    def add(self, image: ExportImage, names: list[str]) -> None:
        w, h = image.width, image.height
        lines = []
        if self.segments:
            corners = [
                (index, [(x1, y1), (x2, y1), (x2, y2), (x1, y2)])
                for index, (x1, y1, x2, y2) in image.boxes
            ]
            for index, vertices in corners + image.polygons:
                values = " ".join(
                    f"{number(x / w, DIGITS)} {number(y / h, DIGITS)}" for x, y in vertices
                )
                lines.append(f"{index} {values}\n")
        else:
            shapes = image.boxes + [(i, bounds(v)) for i, v in image.polygons]
            scores = image.scores.boxes + image.scores.polygons
            for n, (index, (x1, y1, x2, y2)) in enumerate(shapes):
                xywh = ((x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h)
                line = f"{index} " + " ".join(number(v, DIGITS) for v in xywh)
                if self.options.yolo_scores:  # Ultralytics' save_conf form: a sixth column
                    score = scores[n] if n < len(scores) else None
                    line += f" {number(1.0 if score is None else score, 4)}"
                lines.append(line + "\n")
        label = self.folder / "labels" / image.subset / f"{image.stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(lines), encoding="utf-8")
        self._subsets.add(image.subset)
        self._points += len(image.points)
        self.symlinked += place_image(
            image.row.source,
            self.folder / "images" / image.subset / image.name,
            self.options.copy_images,
        )

    def close(self, names: list[str]) -> None:
        for subset in ("train", "val"):
            (self.folder / "images" / subset).mkdir(parents=True, exist_ok=True)
            (self.folder / "labels" / subset).mkdir(parents=True, exist_ok=True)
        lines = [
            "# Ultralytics dataset written by grounding. No 'path:' on purpose: the paths below",
            "# are relative to this file's folder, wherever the folder is moved.",
            "train: images/train",
        ]
        if "val" in self._subsets:
            lines.append("val: images/val")
        else:
            lines.append("val: images/train  # no validation split (export with --val 0.1)")
        lines.append("names:")
        lines += [f"  {i}: {json.dumps(n, ensure_ascii=False)}" for i, n in enumerate(names)]
        (self.folder / "data.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if self._points:
            self.notes.append(
                f"{self.folder.name}: {self._points} points not written (YOLO boxes and "
                "segments hold none)"
            )
