"""Ray Data integration: label image rows with ``Dataset.map_batches``.

Each Ray actor keeps one :class:`~grounding.Client` (same client, parser and label mapping as
``grounding label``); rows come from ``ray.data.read_images(..., include_paths=True)`` (an
``image`` array column and a ``path`` column) or any dataset with a ``path`` column. Install
with ``pip install -e ".[ray]"``.

>>> import ray  # doctest: +SKIP
>>> ds = ray.data.read_images("s3://bucket/photos/", include_paths=True)  # doctest: +SKIP
>>> labelled = ds.map_batches(
...     RayLabeler, fn_constructor_kwargs={"classes": ["scratch", "dent"], "provider": "zai"},
...     concurrency=8, batch_size=16)  # doctest: +SKIP
>>> labelled.write_parquet("out/")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from grounding.client import Client
from grounding.errors import GroundingError
from grounding.labeling.classes import ClassMatcher

__all__ = ["RayLabeler"]


class RayLabeler:
    """A callable for ``map_batches``: adds ``boxes`` (JSON lists of pixel xyxy), ``labels``
    (JSON lists of class names), ``grounding`` (the full result as JSON) and ``error``."""

    def __init__(
        self,
        classes: Sequence[str],
        *,
        prompt: str | None = None,
        image_column: str = "image",
        path_column: str = "path",
        keep_unknown: bool = False,
        **client_options: Any,
    ) -> None:
        self.classes = list(classes)
        self.match = ClassMatcher(self.classes)
        self.keep_unknown = keep_unknown
        self.image_column, self.path_column = image_column, path_column
        self.client = Client(**client_options)
        if prompt is None:
            from grounding import prompts

            prompt = prompts.prompt_text("detect", self.classes, model=self.client.model)
        self.prompt = prompt.replace("{classes}", ", ".join(self.classes))

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        images = batch.get(self.image_column)
        sources: list[Any] = (
            list(images)
            if images is not None
            else [str(p) for p in batch.get(self.path_column, [])]
        )
        boxes, labels, full, errors = [], [], [], []
        for source in sources:
            try:
                result = self.client.ask(source, self.prompt)
            except GroundingError as exc:
                boxes.append("[]")
                labels.append("[]")
                full.append("{}")
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            kept_boxes, kept_labels = [], []
            for box, label in zip(result.boxes.tolist(), result.labels, strict=True):
                name = self.match(label)
                if name is None and self.keep_unknown:
                    name = label or "unknown"
                if name is not None:
                    kept_boxes.append(box)
                    kept_labels.append(name)
            boxes.append(json.dumps(kept_boxes))
            labels.append(json.dumps(kept_labels))
            full.append(json.dumps(result.to_dict()))
            errors.append("")
        return {
            **batch,
            "boxes": np.array(boxes),
            "labels": np.array(labels),
            "grounding": np.array(full),
            "error": np.array(errors),
        }

    def __del__(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
