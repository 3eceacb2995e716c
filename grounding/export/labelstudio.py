"""Label Studio: ``labelstudio/tasks.json`` (predictions) and ``labelstudio-config.xml``.

Images are referenced through Label Studio's local-files storage,
``/data/local-files/?d=<path relative to LOCAL_FILES_DOCUMENT_ROOT>``, URL-encoded (Label
Studio decodes the query: an unencoded ``+`` becomes a space, ``#`` ends the URL and ``&``
starts another parameter). Label Studio serves a file only when its folder lies inside a
local-files storage whose path is a *subfolder* of the document root (it refuses a storage
path equal to the root), so the document root defaults to the parent of the input folder and
the storage path is the folder holding all the images; ``setup.txt`` gives both, and the
export summary prints them.

>>> image_url("a b/c+d#1.jpg", "/data/local-files/?d=")
'/data/local-files/?d=a%20b/c%2Bd%231.jpg'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from grounding.export._names import ExportError
from grounding.export._shapes import ExportImage
from grounding.export._writer import Writer

__all__ = ["LOCAL_FILES_PREFIX", "LabelStudioWriter", "image_url"]

LOCAL_FILES_PREFIX = "/data/local-files/?d="


def image_url(relative: str, prefix: str) -> str:
    """The task's image reference: ``prefix`` + the URL-encoded relative path."""
    return prefix + quote(relative.replace(os.sep, "/"), safe="/")


def _percent(value: float, whole: int) -> float:
    return round(value / whole * 100, 6) + 0.0


@dataclass
class LabelStudioWriter(Writer):
    _tasks: IO[str] | None = None
    _count: int = 0
    _root: str | None = None
    _storage: str | None = None
    _kinds: set[str] = field(default_factory=set)

    @property
    def main(self) -> Path:
        return self.folder / "tasks.json"

    def _url(self, image: ExportImage) -> str:
        row = image.row
        if row.key.startswith(("http://", "https://")):
            return row.key
        source = os.path.abspath(row.source)
        if self._root is None:
            self._root = os.path.abspath(
                self.options.ls_root or os.path.dirname(os.path.abspath(row.root or "."))
            )
        relative = os.path.relpath(source, self._root)
        if relative.startswith(".." + os.sep) or relative == ".." or os.path.isabs(relative):
            raise ExportError(
                f"labelstudio: {row.source} is not inside the Label Studio document root "
                f"{self._root}: give --ls-root a folder that holds every image"
            )
        folder = os.path.dirname(source)
        self._storage = (
            folder if self._storage is None else os.path.commonpath([self._storage, folder])
        )
        return image_url(relative, self.options.ls_image_prefix)

    def add(self, image: ExportImage, names: list[str]) -> None:
        if self._tasks is None:
            self._tasks = (self.folder / "tasks.json").open("w", encoding="utf-8")
            self._tasks.write("[")
        o, w, h = self.options, image.width, image.height
        common: dict[str, Any] = {"to_name": o.ls_to_name, "original_width": w,
                                  "original_height": h, "image_rotation": 0}  # fmt: skip
        results: list[dict[str, Any]] = []
        scores = [*image.scores.boxes, *image.scores.polygons, *image.scores.points]
        for i, (x1, y1, x2, y2) in image.boxes:
            value = {"x": _percent(x1, w), "y": _percent(y1, h),
                     "width": _percent(x2 - x1, w), "height": _percent(y2 - y1, h),
                     "rotation": 0, "rectanglelabels": [names[i]]}  # fmt: skip
            results.append({"type": "rectanglelabels", "from_name": o.ls_from_name,
                            "value": value, **common})  # fmt: skip
        for i, vertices in image.polygons:
            value = {"points": [[_percent(x, w), _percent(y, h)] for x, y in vertices],
                     "closed": True, "polygonlabels": [names[i]]}  # fmt: skip
            results.append({"type": "polygonlabels", "from_name": f"{o.ls_from_name}-polygon",
                            "value": value, **common})  # fmt: skip
        for i, (x, y) in image.points:
            value = {"x": _percent(x, w), "y": _percent(y, h), "keypointlabels": [names[i]]}
            results.append({"type": "keypointlabels", "from_name": f"{o.ls_from_name}-point",
                            "value": value, **common})  # fmt: skip
        self._kinds.update(r["type"] for r in results)
        for n, result in enumerate(results):
            result["id"] = f"{self._count + 1}-{n}"
            if scores[n] is not None:
                result["score"] = scores[n]
        known = [s for s in scores if s is not None]
        # the task's score is its least sure shape, so sorting by it puts the doubtful first
        task = {
            "data": {"image": self._url(image)},
            "predictions": [
                {
                    "model_version": o.model_version,
                    "score": min(known) if known else 1.0,
                    "result": results,
                }
            ],
        }
        self._tasks.write(
            ("\n" if self._count == 0 else ",\n") + json.dumps(task, ensure_ascii=False)
        )
        self._count += 1

    def _config(self, names: list[str]) -> str:
        o = self.options
        labels = "".join(f"\n    <Label value={quoteattr(n)}/>" for n in names)
        controls = [("RectangleLabels", o.ls_from_name)]
        if "polygonlabels" in self._kinds:
            controls.append(("PolygonLabels", f"{o.ls_from_name}-polygon"))
        if "keypointlabels" in self._kinds:
            controls.append(("KeyPointLabels", f"{o.ls_from_name}-point"))
        to_name = quoteattr(o.ls_to_name)
        body = "".join(
            f"\n  <{tag} name={quoteattr(name)} toName={to_name}>{labels}\n  </{tag}>"
            for tag, name in controls
        )
        return f'<View>\n  <Image name={quoteattr(o.ls_to_name)} value="$image"/>{body}\n</View>\n'

    def close(self, names: list[str]) -> None:
        if self._tasks is None:
            self._tasks = (self.folder / "tasks.json").open("w", encoding="utf-8")
            self._tasks.write("[")
        self._tasks.write("\n]\n")
        self._tasks.close()
        (self.folder / "labelstudio-config.xml").write_text(self._config(names), encoding="utf-8")
        if self._root is None or self.options.ls_image_prefix != LOCAL_FILES_PREFIX:
            return
        storage = self._storage or self._root
        if os.path.normpath(storage) == os.path.normpath(self._root):
            raise ExportError(
                f"labelstudio: images lie directly in the document root {self._root}, which "
                "Label Studio's local-files storage refuses as a storage path: give --ls-root "
                "a parent folder"
            )
        setup = (
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true "
            f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={self._root} label-studio start; "
            f"add a Local Files source storage with the path {storage} (do not sync it), "
            "paste labelstudio-config.xml as the labeling config, import tasks.json"
        )
        (self.folder / "setup.txt").write_text(setup + "\n", encoding="utf-8")
        self.notes.append(f"labelstudio: {setup}")
