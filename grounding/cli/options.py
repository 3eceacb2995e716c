"""Option parsing and output shared by the commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from grounding.result import Grounding

__all__ = ["err", "out", "parse_size", "print_grounding", "read_text"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # errors stay one line


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
    return "  ".join(f"{v:.1f}" for v in values)


def print_grounding(
    result: Grounding, *, as_json: bool, extra: dict[str, Any] | None = None
) -> None:
    """Print a result: ``to_dict()`` JSON, or a table with the warnings on stderr."""
    if as_json:
        sys.stdout.write(
            json.dumps({**result.to_dict(), **(extra or {})}, ensure_ascii=False) + "\n"
        )
        return
    if result.is_empty:
        out.print("nothing located")
    else:
        table = Table("#", "kind", "label", "pixels (x1 y1 x2 y2 | x y | polygon)")
        rows = [
            *(("box", lab, _fmt(b)) for b, lab in zip(result.boxes, result.labels, strict=True)),
            *(
                ("point", lab, _fmt(p))
                for p, lab in zip(result.points, result.point_labels, strict=True)
            ),
            *(
                ("polygon", lab, " | ".join(_fmt(v) for v in poly))
                for poly, lab in zip(result.polygons, result.polygon_labels, strict=True)
            ),
        ]
        for i, (kind, label, pixels) in enumerate(rows, 1):
            table.add_row(str(i), kind, label or "", pixels)
        out.print(table)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
