"""``grounding cache``: look at or empty the response cache."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from grounding.cache import ResponseCache, default_cache_path
from grounding.cli.options import out

__all__ = ["cache_app", "parse_age"]

cache_app = typer.Typer(
    help="The response cache (SQLite): answers are reused for the same endpoint, image, "
    "prompt, model and parameters. Location: GROUNDING_CACHE_DIR, else ~/.cache/grounding.",
    no_args_is_help=True,
)
CachePath = Annotated[
    Path | None, typer.Option("--path", help="Cache file [default: the standard location].")
]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(value: str | None) -> float | None:
    """``"90m"``, ``"12h"``, ``"7d"``, ``"2w"`` (or a bare number of days) -> seconds.

    >>> parse_age("36h"), parse_age("2")
    (129600.0, 172800.0)
    """
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", value.lower())
    if not match:
        raise typer.BadParameter(
            f"expected an age such as 90m, 12h, 7d or 2w, got {value!r}", param_hint="--older-than"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "d"]


@cache_app.command("info")
def info(
    path: CachePath = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where the cache is, how many answers it holds and its size."""
    target = path or default_cache_path()
    data: dict[str, Any]
    if not target.exists():
        data = {"path": str(target), "entries": 0, "bytes": 0, "models": {}}
    else:
        data = ResponseCache(target).info()
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    out.print(f"path     {data['path']}")
    out.print(f"entries  {data['entries']}")
    out.print(f"size     {data['bytes'] / 1e6:.1f} MB")
    for model, count in sorted(data["models"].items()):
        out.print(f"  {model or '(unknown model)'}: {count}")


@cache_app.command("clear")
def clear(
    path: CachePath = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Only answers of this model (as `cache info` lists)."),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than", help="Only answers stored at least this long ago: 90m, 12h, 7d, 2w."
        ),
    ] = None,
) -> None:
    """Delete cached answers: all of them, or those of one model and/or older than an age.

    Example: grounding cache clear --model glm-4.5v --older-than 7d
    """
    age = parse_age(older_than)
    target = path or default_cache_path()
    removed = ResponseCache(target).clear(model=model, older_than=age) if target.exists() else 0
    which = " ".join(
        part
        for part in (
            f"of {model}" if model else "",
            f"older than {older_than}" if age is not None else "",
        )
        if part
    )
    out.print(f"removed {removed} cached answer(s){' ' + which if which else ''} from {target}")
