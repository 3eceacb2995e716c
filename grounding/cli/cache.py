"""``grounding cache``: look at or empty the response cache."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from grounding.cache import ResponseCache, default_cache_path
from grounding.cli.options import out

__all__ = ["cache_app"]

cache_app = typer.Typer(
    help="The response cache (SQLite): answers are reused for the same image, prompt, "
    "model and parameters. Location: GROUNDING_CACHE_DIR, else ~/.cache/grounding.",
    no_args_is_help=True,
)
CachePath = Annotated[
    Path | None, typer.Option("--path", help="Cache file [default: the standard location].")
]


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
def clear(path: CachePath = None) -> None:
    """Delete every cached answer."""
    target = path or default_cache_path()
    removed = ResponseCache(target).clear() if target.exists() else 0
    out.print(f"removed {removed} cached answer(s) from {target}")
