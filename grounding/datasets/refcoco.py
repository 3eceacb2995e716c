"""RefCOCO, RefCOCO+ and RefCOCOg from the original files, and the jsonl and parquet forms.

The original layout: ``refs(unc).p`` (RefCOCO, RefCOCO+), ``refs(umd).p`` (RefCOCOg, the
recommended split) or ``refs(google).p``, plus ``instances.json``; images are COCO train2014.
One sample per sentence, its id the ``sent_id``.

Split semantics (as the reference loaders): ``testA``/``testB`` match refs whose split ends in
that letter; ``test`` is any split containing "test"; others match exactly.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from grounding.datasets import checks
from grounding.datasets.base import DatasetError, Sample, bulk, xywh_to_xyxy
from grounding.datasets.safe_pickle import safe_load_path

__all__ = ["REFERRING", "load_jsonl", "load_parquet", "load_refcoco", "split_matches"]

# dataset -> the refs pickle(s) to look for, in order of preference
REFERRING = {
    "refcoco": ("refs(unc).p",),
    "refcoco+": ("refs(unc).p",),
    "refcocog": ("refs(umd).p", "refs(google).p"),
}
SPLITS = {
    "refcoco": ("val", "testA", "testB"),
    "refcoco+": ("val", "testA", "testB"),
    "refcocog": ("val", "test"),
}


def split_matches(ref_split: str, wanted: str) -> bool:
    """The reference loaders' split rule.

    >>> [split_matches(s, w) for s, w in [("testA", "testA"), ("testB", "test"), ("val", "test")]]
    [True, True, False]
    """
    if wanted in ("testA", "testB", "testC"):
        return ref_split.endswith(wanted[-1])
    if wanted == "test":
        return "test" in ref_split
    return ref_split == wanted


def _read_json(path: Path) -> Any:
    try:
        with path.open("rb") as file:
            return json.load(file)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: a folder, not a JSON file") from None
    except RecursionError:
        raise DatasetError(f"{path}: not valid JSON (nested too deep)") from None
    except ValueError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    return str(path), info.st_size, info.st_mtime_ns


class Instances(NamedTuple):
    """A COCO ``instances.json``, checked and indexed: annotations, images and category names."""

    annotations: dict[int | str, dict[str, Any]]
    images: dict[int | str, dict[str, Any]]
    categories: dict[Any, str]


def index_instances(path: Path, data: Any) -> Instances:
    """Check the parts of a COCO ``instances.json`` the loaders use and index them by id."""
    data = checks.mapping(path, "the top level", data)
    anns: dict[int | str, dict[str, Any]] = {}
    for i, ann in enumerate(checks.records(path, "'annotations'", data.get("annotations"))):
        where = f"annotation {i}"
        ann = checks.mapping(path, where, ann)
        key = checks.identifier(path, where, checks.field(path, where, ann, "id"))
        if key in anns:
            checks.fail(path, f"{where} repeats the id {key!r} of an earlier annotation")
        anns[key] = ann
        checks.box(path, where, checks.field(path, where, ann, "bbox"))
        checks.identifier(path, where, checks.field(path, where, ann, "image_id"))
        if "category_id" in ann:
            checks.identifier(path, where, ann["category_id"])
    imgs: dict[int | str, dict[str, Any]] = {}
    for i, image in enumerate(checks.records(path, "'images'", data.get("images"))):
        where = f"image {i}"
        image = checks.mapping(path, where, image)
        key = checks.identifier(path, where, checks.field(path, where, image, "id"))
        if key in imgs:
            checks.fail(path, f"{where} repeats the id {key!r} of an earlier image")
        imgs[key] = image
        checks.text(path, f"{where} file_name", checks.field(path, where, image, "file_name"))
        width = checks.field(path, where, image, "width")
        checks.size(path, where, width, checks.field(path, where, image, "height"))
    cats: dict[Any, str] = {}
    for i, cat in enumerate(checks.records(path, "'categories'", data.get("categories"))):
        where = f"category {i}"
        cat = checks.mapping(path, where, cat)
        key = checks.identifier(path, where, checks.field(path, where, cat, "id"))
        cats[key] = checks.text(path, f"{where} name", checks.field(path, where, cat, "name"))
    return Instances(anns, imgs, cats)


def check_refs(path: Path, refs: Any) -> list[dict[str, Any]]:
    """The refs of a refs pickle, each checked for the fields :func:`load_refcoco` reads."""
    for i, ref in enumerate(checks.records(path, "the pickle's top level", refs)):
        where = f"ref {i}"
        ref = checks.mapping(path, where, ref)
        checks.text(path, f"{where} split", ref.get("split"), optional=True)
        checks.identifier(path, where, checks.field(path, where, ref, "ann_id"))
        checks.identifier(path, where, checks.field(path, where, ref, "image_id"))
        for key in ("ref_id", "category_id"):
            if ref.get(key) is not None:
                checks.identifier(path, f"{where} {key}", ref[key])
        sentences = checks.records(path, f"{where} sentences", ref.get("sentences"))
        for k, sentence in enumerate(sentences):
            said = f"{where} sentence {k}"
            sentence = checks.mapping(path, said, sentence)
            checks.identifier(path, said, checks.field(path, said, sentence, "sent_id"))
            for key in ("sent", "raw"):
                checks.text(path, f"{said} {key}", sentence.get(key), optional=True)
    return refs  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=2)
def _annotations(
    refs_file: tuple[str, int, int], instances_file: tuple[str, int, int]
) -> tuple[list[dict[str, Any]], Instances]:
    """The checked refs and the indexed instances; read once for all the splits of a run."""
    with bulk():
        refs_path, instances_path = Path(refs_file[0]), Path(instances_file[0])
        refs = check_refs(refs_path, safe_load_path(refs_path))
        instances = index_instances(instances_path, _read_json(instances_path))
    return refs, instances


def load_refcoco(
    root: str | Path,
    split: str,
    *,
    dataset: str = "refcoco",
    images: str | Path | None = None,
    refs_file: str | None = None,
) -> Iterator[Sample]:
    """Samples of one split, lazily, from the original pickle + ``instances.json``.

    ``root`` holds the pickle and ``instances.json``; ``images`` the COCO train2014 images
    (default ``root/images``; only ``bench`` opens them).
    """
    root = Path(root)
    names = (refs_file,) if refs_file else REFERRING.get(dataset, ("refs(unc).p",))
    pickle_path = next((root / n for n in names if (root / n).exists()), root / names[0])
    refs, (anns, imgs, cats) = _annotations(_stamp(pickle_path), _stamp(root / "instances.json"))
    image_dir = Path(images) if images is not None else root / "images"
    paths: dict[int | str, Path] = {}
    found = False
    for ref in refs:
        if not split_matches(ref.get("split") or "", split):
            continue
        found = True
        ann = anns.get(ref["ann_id"])
        image = imgs.get(ref["image_id"])
        if ann is None or image is None:
            raise DatasetError(
                f"{root / 'instances.json'}: ref {ref.get('ref_id')} names annotation "
                f"{ref['ann_id']} / image {ref['image_id']}, which it does not hold"
            )
        box = np.array([xywh_to_xyxy(ann["bbox"])])
        for sentence in ref.get("sentences") or []:
            yield Sample(
                id=str(sentence["sent_id"]),
                image=paths.get(image["id"])
                or paths.setdefault(image["id"], image_dir / image["file_name"]),
                expression=sentence.get("sent") or sentence.get("raw") or "",
                boxes=box,
                split=split,
                size=(int(image["width"]), int(image["height"])),
                labels=(cats.get(ref.get("category_id"), ""),),
                meta={
                    "ref_id": ref.get("ref_id"),
                    "ann_id": ref["ann_id"],
                    "image_id": ref["image_id"],
                },
            )
    if not found:
        known = sorted({r.get("split") or "(none)" for r in refs})
        raise DatasetError(f"{pickle_path}: no refs in split {split!r} (it has {', '.join(known)})")


def load_jsonl(
    path: str | Path, split: str = "", *, images: str | Path | None = None
) -> Iterator[Sample]:
    """The Qwen / InternVL form: ``{"image", "sent", "bbox": [x1,y1,x2,y2], "width", "height"}``."""
    path = Path(path)
    base = Path(images) if images is not None else path.parent
    try:
        lines = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    number = 0
    with lines:
        try:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                yield _jsonl_sample(path, number, line, base, split)
        except UnicodeDecodeError:
            checks.fail(path, f"line {number + 1} is not UTF-8 text")


def _jsonl_sample(path: Path, number: int, line: str, base: Path, split: str) -> Sample:
    """One checked row of the jsonl form; the error names the file and the line."""
    where = f"line {number}"
    try:
        row = checks.mapping(path, where, json.loads(line))
    except RecursionError:
        checks.fail(path, f"{where} is not valid JSON (nested too deep)")
    except ValueError as exc:
        checks.fail(path, f"{where} is not valid JSON ({exc})")
    box = checks.box(path, where, checks.field(path, where, row, "bbox"))
    size = None
    if "width" in row or "height" in row:
        size = checks.size(
            path,
            where,
            checks.field(path, where, row, "width"),
            checks.field(path, where, row, "height"),
        )
    image = checks.text(path, f"{where} image", checks.field(path, where, row, "image"))
    expression = row.get("sent") or row.get("expression") or row.get("question")
    row_id = row.get("id", row.get("question_id", number))
    return Sample(
        id=str(checks.identifier(path, where, row_id)),
        image=base / image,
        expression=checks.text(path, f"{where} sent", expression),
        boxes=np.array([box]),
        split=split or checks.text(path, f"{where} split", row.get("split"), optional=True),
        size=size,
    )


def load_parquet(path: str | Path, split: str = "") -> Iterator[Sample]:
    """The lmms-lab parquet form (needs ``pip install grounding[parquet]``).

    One sample per sentence of ``answer``; ``bbox`` is ``[x, y, w, h]``. Its "val" splits merge
    other splits (RefCOCO val has 23,962 sentences there, not 10,834): numbers from them are
    not comparable with papers.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(
            "reading parquet needs pyarrow: pip install 'grounding[parquet]'"
        ) from None
    warnings.warn(
        f"{path}: lmms-lab parquet splits are not the standard ones (val merges splits); "
        "use the original refs pickle to compare with papers",
        stacklevel=2,
    )
    table = pq.read_table(path)
    for row in table.to_pylist():
        image = row.get("image")
        data = image.get("bytes") if isinstance(image, dict) else image
        sentences = row.get("answer") or [row.get("question")]
        for k, sentence in enumerate(sentences):
            yield Sample(
                id=f"{row.get('question_id')}-{k}",
                image=data if isinstance(data, bytes) else Path(str(row.get("file_name"))),
                expression=str(sentence),
                boxes=np.array([xywh_to_xyxy(row["bbox"])]),
                split=split,
                meta={"file_name": row.get("file_name")},
            )
