"""Option parsing and output shared by the commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grounding.result import Grounding

__all__ = [
    "check_image_output",
    "err",
    "out",
    "parse_size",
    "print_grounding",
    "read_text",
    "rounded",
]

# Tables and text on stdout show what they are given: no markup, so "[x1, y1]" stays.
out = Console(highlight=False, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # errors stay one line


def rounded(value: Any, digits: int = 2) -> Any:
    """``value`` with every float rounded, for output people read (the library keeps all).

    >>> rounded({"xyxy": [999.5999999999999, 0.125], "n": 3})
    {'xyxy': [999.6, 0.12], 'n': 3}
    """
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


def check_image_output(path: Path | None, option: str = "--out") -> None:
    """Fail with one line (exit 2) unless an image can be written at ``path``: a known image
    extension, an existing writable folder. Called before any request is sent."""
    if path is None:
        return
    from PIL import Image

    from grounding.cli.exits import fail

    if path.is_dir():
        fail(f"{option} {path}: is a folder; give a file name such as {path / 'boxes.jpg'}")
    Image.init()
    format_name = Image.registered_extensions().get(path.suffix.lower())
    if format_name is None or format_name not in Image.SAVE:
        fail(
            f"{option} {path}: unknown image extension {path.suffix or '(none)'!r}; "
            "use .jpg, .png or .webp"
        )
    folder = path.parent
    if not folder.is_dir():
        fail(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"{option} {path}: not writable")


def parse_size(value: str | None, option: str = "--size") -> tuple[int, int] | None:
    """``"1200x800"`` -> ``(1200, 800)``; a clear error naming the option otherwise."""
    if value is None:
        return None
    parts = value.lower().replace("×", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(
            f"expected WIDTHxHEIGHT such as 1200x800, got {value!r}", param_hint=option
        ) from None
    if width <= 0 or height <= 0:
        raise typer.BadParameter(
            f"width and height must be positive, got {value!r}", param_hint=option
        )
    return width, height


def read_text(value: str | None) -> str:
    """The argument itself, or standard input for ``-`` or no argument."""
    if value is None or value == "-":
        if sys.stdin.isatty():
            raise typer.BadParameter(
                "give the model's answer as TEXT, or pipe it in with -", param_hint="TEXT"
            )
        return sys.stdin.read()
    return value


def _fmt(values: Any) -> str:
    return "  ".join(f"{v:.2f}" for v in values)


def print_grounding(
    result: Grounding, *, as_json: bool, extra: dict[str, Any] | None = None, table: bool = True
) -> None:
    """Print a result: ``to_dict()`` JSON (floats to two decimals), or a table (unless
    ``table=False``) with the warnings on stderr."""
    if as_json:
        sys.stdout.write(
            json.dumps(rounded({**result.to_dict(), **(extra or {})}), ensure_ascii=False) + "\n"
        )
        return
    if not table:
        pass
    elif result.is_empty:
        out.print("nothing located")
    else:
        scored = result.has_confidence
        columns = ["#", "kind", "label", *(["confidence"] if scored else [])]
        shapes = Table(*columns, "pixels (x1 y1 x2 y2 | x y | polygon)")
        rows = [
            *(
                ("box", lab, c, _fmt(b))
                for b, lab, c in zip(result.boxes, result.labels, result.confidence, strict=True)
            ),
            *(
                ("point", lab, c, _fmt(p))
                for p, lab, c in zip(
                    result.points, result.point_labels, result.point_confidence, strict=True
                )
            ),
            *(
                ("polygon", lab, c, " | ".join(_fmt(v) for v in poly))
                for poly, lab, c in zip(
                    result.polygons, result.polygon_labels, result.polygon_confidence, strict=True
                )
            ),
        ]
        for i, (kind, label, score, pixels) in enumerate(rows, 1):
            shown = [f"{score:.2f}" if score == score else "-"] if scored else []
            shapes.add_row(str(i), kind, label or "", *shown, pixels)
        out.print(shapes)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
