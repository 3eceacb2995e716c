"""``export_job``: the done rows of one or more job stores -> every chosen format."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grounding.export._files import Staging
from grounding.export._names import Names, subset
from grounding.export._shapes import Classes, ExportImage, image_size, merged_rows, shapes
from grounding.export._writer import Options, Writer
from grounding.export.coco import CocoWriter
from grounding.export.cvat import CvatWriter
from grounding.export.labelstudio import LabelStudioWriter
from grounding.export.voc import VocWriter
from grounding.export.yolo import YoloWriter
from grounding.labeling.store import JobStore

__all__ = ["FORMATS", "ExportSummary", "export_job"]

FORMATS = ("coco", "yolo", "yolo-seg", "voc", "labelstudio", "cvat")


@dataclass
class ExportSummary:
    """What was written: counts, the file or folder to hand to each tool, and notes (renamed
    images, shapes a format cannot hold, the Label Studio setup)."""

    images: int = 0
    boxes: int = 0
    polygons: int = 0
    points: int = 0
    unmatched: int = 0
    failed: int = 0
    missing: int = 0  # done in the job, but the image file is gone: left out, in failed.csv
    renamed: int = 0
    subsets: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _writer(fmt: str, folder: Path, options: Options) -> Writer:
    if fmt == "coco":
        return CocoWriter(folder, options)
    if fmt == "yolo":
        return YoloWriter(folder, options)
    if fmt == "yolo-seg":
        return YoloWriter(folder, options, segments=True)
    if fmt == "voc":
        return VocWriter(folder, options)
    if fmt == "cvat":
        return CvatWriter(folder, options)
    return LabelStudioWriter(folder, options)


def export_job(
    stores: Sequence[JobStore],
    out: str | Path,
    *,
    classes: Sequence[str],
    formats: Sequence[str] = ("coco",),
    keep_unknown: bool = False,
    copy_images: bool = False,
    val: float = 0.0,
    ls_from_name: str = "label",
    ls_to_name: str = "image",
    ls_image_prefix: str = "/data/local-files/?d=",
    ls_root: str | Path | None = None,
    model_version: str = "grounding",
    yolo_scores: bool = False,
    on_image: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write ``formats`` into ``out/<format>/`` from the done rows of ``stores``, and
    ``out/failed.csv``.

    Each image gets one flat, unique file name used by every format (see
    :mod:`grounding.export._names`); ``val`` holds out that fraction of images (by a stable
    hash of the key) as the ``val`` subset. Confidences are written where a format has a place:
    COCO ``annotations/predictions_<subset>.json`` (pycocotools' results form), Label Studio
    result and prediction ``score``, a CVAT ``score`` attribute, and with ``yolo_scores`` a
    sixth YOLO column. Everything is written into a staging folder first
    and moved into place at the end, so an error (a full disk, an unsafe key, a setting a
    format cannot honour: :class:`ExportError`) leaves the previous export untouched.

    >>> import tempfile, pathlib
    >>> from grounding.labeling import Item, JobStore
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (out / "a.jpg").write_bytes(b"fixture, not read: the store knows the size")
    >>> store = JobStore(out / "job.sqlite")
    >>> _ = store.add([Item("a.jpg", str(out / "a.jpg"), str(out))])
    >>> store.finish("a.jpg", status="done", size=(40, 30),
    ...              result={"boxes": [{"xyxy": [1, 2, 11, 12], "label": "dent"}]})
    >>> export_job([store], out, classes=["dent"], formats=["coco"]).boxes
    1
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}: use {', '.join(FORMATS)}")
    if not 0 <= val < 1:
        raise ValueError(f"val must be in [0, 1), got {val}")
    options = Options(
        copy_images=copy_images,
        ls_from_name=ls_from_name,
        ls_to_name=ls_to_name,
        ls_image_prefix=ls_image_prefix,
        ls_root=None if ls_root is None else str(ls_root),
        model_version=model_version,
        yolo_scores=yolo_scores,
    )
    out = Path(out)
    stage = Staging(out)
    try:
        summary = _write(stores, stage.path, classes, list(dict.fromkeys(formats)), options,
                         keep_unknown, val, on_image)  # fmt: skip
        stage.commit(
            *dict.fromkeys(p.relative_to(stage.path).parts[0] for p in summary.files.values())
        )
        if not summary.renamed:
            (out / "renamed.csv").unlink(missing_ok=True)  # a previous export's, now stale
    finally:
        stage.discard()
    summary.files = {k: out / p.relative_to(stage.path) for k, p in summary.files.items()}
    return summary


def _write(
    stores: Sequence[JobStore],
    stage: Path,
    classes: Sequence[str],
    formats: list[str],
    options: Options,
    keep_unknown: bool,
    val: float,
    on_image: Callable[[int], None] | None,
) -> ExportSummary:
    summary = ExportSummary()
    names = Classes(classes, keep_unknown)
    writers = {fmt: _writer(fmt, stage / fmt, options) for fmt in formats}
    allocator = Names(str(stage / ".names.sqlite"))
    failed = (stage / "failed.csv").open("w", newline="", encoding="utf-8")
    table = csv.writer(failed)
    table.writerow(["key", "source", "status", "error"])
    try:
        for row in merged_rows(stores, "done"):
            if not row.source.startswith(("http://", "https://")) and not os.path.isfile(
                row.source
            ):
                table.writerow([row.key, row.source, "missing", "image file gone since labeling"])
                summary.missing += 1
                continue
            width, height = image_size(row)
            name, stem, renamed = allocator.allocate(row.key)
            boxes, polygons, points, scores = shapes(row.result, width, height, names)
            part = subset(row.key, val)
            image = ExportImage(
                row, name, stem, part, width, height, boxes, polygons, points, scores
            )
            for writer in writers.values():
                writer.add(image, names.names)
            summary.images += 1
            summary.boxes += len(boxes)
            summary.polygons += len(polygons)
            summary.points += len(points)
            summary.subsets[part] = summary.subsets.get(part, 0) + 1
            if renamed:
                summary.renamed += 1
                with (stage / "renamed.csv").open("a", newline="", encoding="utf-8") as file:
                    if summary.renamed == 1:
                        csv.writer(file).writerow(["key", "exported as"])
                    csv.writer(file).writerow([row.key, name])
            if on_image is not None:
                on_image(summary.images)
        for row in merged_rows(stores, "failed", "blocked"):
            table.writerow([row.key, row.source, row.status, row.error or ""])
            summary.failed += 1
    finally:
        failed.close()
        allocator.close()
        (stage / ".names.sqlite").unlink(missing_ok=True)
    for fmt, writer in writers.items():
        writer.close(names.names)
        summary.files[fmt] = writer.main
        summary.notes += writer.notes
        if writer.symlinked:
            summary.notes.append(
                f"{fmt}: {writer.symlinked} images are symbolic links (the originals are on "
                "another file system); some loaders refuse those: export with --copy-images"
            )
    if summary.renamed:
        summary.files["renamed"] = stage / "renamed.csv"
        summary.notes.insert(
            0,
            f"{summary.renamed} images renamed where two names would collide "
            "(x.jpg and x.png, or names that differ only in case): see renamed.csv",
        )
    if summary.missing:
        summary.notes.insert(
            0,
            f"{summary.missing} labelled images are no longer on disk: left out of every "
            "format (listed in failed.csv as missing)",
        )
    summary.files["failed"] = stage / "failed.csv"
    summary.unmatched = names.unmatched
    summary.classes = list(names.names)
    return summary
