"""The root ``grounding`` command and its sub-commands."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from grounding import __version__
from grounding.cli.ask import detect, locate
from grounding.cli.cache import cache_app
from grounding.cli.draw import draw
from grounding.cli.evaluate import bench, datasets_app, score
from grounding.cli.exits import INTERNAL, one_line
from grounding.cli.label import export, label
from grounding.cli.options import err
from grounding.cli.parse import parse
from grounding.cli.point import gui, point
from grounding.cli.prompt import prompt_app

__all__ = ["app"]


class _App(typer.Typer):
    """The root command, with a last-resort handler: an unexpected exception is a bug, told in
    one line with exit code 4 (``GROUNDING_DEBUG=1`` shows the traceback instead)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if os.environ.get("GROUNDING_DEBUG"):
                raise
            message = one_line(f"{type(exc).__name__}: {exc}")
            err.print(
                f"[red]internal error:[/] {escape(message)} (a bug in grounding; rerun with "
                "GROUNDING_DEBUG=1 for the traceback and please report it)"
            )
            sys.exit(INTERNAL)


# rich_markup_mode=None: help is shown as written, so "[default: …]" and JSON survive.
app = _App(
    name="grounding",
    help="Turn vision-language model answers into exact pixel boxes, points and polygons.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grounding {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Turn vision-language model answers into exact pixel boxes, points and polygons."""


app.command("locate")(locate)
app.command("detect")(detect)
app.command("point")(point)
app.command("gui")(gui)
app.command("draw")(draw)
app.command("label")(label)
app.command("export")(export)
app.command("parse")(parse)
app.command("bench")(bench)
app.command("score")(score)
for _sub in (datasets_app, prompt_app, cache_app):
    _sub.rich_markup_mode = None  # as the root: help shown as written
app.add_typer(datasets_app, name="datasets")
app.add_typer(prompt_app, name="prompt")
app.add_typer(cache_app, name="cache")
