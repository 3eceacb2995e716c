"""What every format's writer shares: its options and its three steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grounding.export._shapes import ExportImage

__all__ = ["Options", "Writer"]


@dataclass(frozen=True)
class Options:
    """Settings of one export (see :func:`grounding.export.export_job`)."""

    copy_images: bool = False
    ls_from_name: str = "label"
    ls_to_name: str = "image"
    ls_image_prefix: str = "/data/local-files/?d="
    ls_root: str | None = None
    model_version: str = "grounding"
    yolo_scores: bool = False  # a sixth column with each box's confidence (1 where unknown)


@dataclass
class Writer:
    """One format: ``add`` each image in key order, then ``close`` with the final classes.

    Everything goes under ``folder`` (inside the staging folder); ``main`` is the file to
    hand to the tool; ``notes`` are lines for the export summary.
    """

    folder: Path
    options: Options
    notes: list[str] = field(default_factory=list)
    symlinked: int = 0  # images linked symbolically (hard links impossible there)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def main(self) -> Path:
        return self.folder

    def add(self, image: ExportImage, names: list[str]) -> None:
        raise NotImplementedError

    def close(self, names: list[str]) -> None:
        raise NotImplementedError
