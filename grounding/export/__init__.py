"""Exports of a labeling job: COCO, YOLO (detect and seg), Pascal VOC, CVAT and Label Studio.

Each format goes into its own folder of the output folder, in the layout its tool imports as
it is (``coco/``, ``yolo/``, ``yolo-seg/``, ``voc/``, ``cvat/``, ``labelstudio/``), plus
``failed.csv``. Written from the job store(s), streaming: rows are read page by page and merged
across stores in key order, so exporting a million images (or merging the stores of N shards)
needs no memory per image. Model labels are mapped onto the job's classes (see
:class:`~grounding.labeling.classes.ClassMatcher`); unmatched ones are counted and dropped, or
kept with ``keep_unknown``. Images are linked into each folder (or copied with
``copy_images``) under one flat, unique name per image.

>>> from grounding.export import FORMATS
>>> FORMATS
('coco', 'yolo', 'yolo-seg', 'voc', 'labelstudio', 'cvat')
"""

from __future__ import annotations

from grounding.export._job import FORMATS, ExportSummary, export_job
from grounding.export._names import ExportError

__all__ = ["FORMATS", "ExportError", "ExportSummary", "export_job"]
