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
from typing import Any

import numpy as np

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
    except ValueError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    return str(path), info.st_size, info.st_mtime_ns


@functools.lru_cache(maxsize=2)
def _annotations(
    refs_file: tuple[str, int, int], instances_file: tuple[str, int, int]
) -> tuple[list[dict[str, Any]], dict[Any, Any], dict[Any, Any], dict[Any, str]]:
    """The refs, and annotations, images and category names by id; read and indexed once
    for all the splits of a run."""
    with bulk():
        refs = safe_load_path(Path(refs_file[0]))
        instances = _read_json(Path(instances_file[0]))
        if not isinstance(refs, list) or not isinstance(instances, dict):
            raise DatasetError(f"{refs_file[0]}: expected a list of refs and a COCO instances dict")
        anns = {a["id"]: a for a in instances.get("annotations", [])}
        imgs = {i["id"]: i for i in instances.get("images", [])}
        cats = {c["id"]: c["name"] for c in instances.get("categories", [])}
    return refs, anns, imgs, cats


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
    refs, anns, imgs, cats = _annotations(_stamp(pickle_path), _stamp(root / "instances.json"))
    image_dir = Path(images) if images is not None else root / "images"
    paths: dict[int, Path] = {}
    found = False
    for ref in refs:
        if not split_matches(str(ref.get("split", "")), split):
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
        for sentence in ref.get("sentences", []):
            yield Sample(
                id=str(sentence["sent_id"]),
                image=paths.get(image["id"])
                or paths.setdefault(image["id"], image_dir / image["file_name"]),
                expression=str(sentence.get("sent") or sentence.get("raw") or ""),
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
        known = sorted({str(r.get("split")) for r in refs})
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
    with lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                box = [float(v) for v in row["bbox"]]
                size = (int(row["width"]), int(row["height"])) if "width" in row else None
                yield Sample(
                    id=str(row.get("id", row.get("question_id", number))),
                    image=base / row["image"],
                    expression=str(row.get("sent") or row.get("expression") or row.get("question")),
                    boxes=np.array([box]),
                    split=split or str(row.get("split", "")),
                    size=size,
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise DatasetError(f"{path}:{number}: not a grounding row ({exc})") from None


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
