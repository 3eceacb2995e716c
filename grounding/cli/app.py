"""The root ``grounding`` command and its sub-commands."""

from __future__ import annotations

from typing import Annotated

import typer

from grounding import __version__
from grounding.cli.ask import detect, locate
from grounding.cli.cache import cache_app
from grounding.cli.draw import draw
from grounding.cli.evaluate import bench, datasets_app, score
from grounding.cli.label import export, label
from grounding.cli.parse import parse
from grounding.cli.prompt import prompt_app

__all__ = ["app"]

app = typer.Typer(
    name="grounding",
    help="Turn vision-language model answers into exact pixel boxes, points and polygons.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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
app.command("draw")(draw)
app.command("label")(label)
app.command("export")(export)
app.command("parse")(parse)
app.command("bench")(bench)
app.command("score")(score)
app.add_typer(datasets_app, name="datasets")
app.add_typer(prompt_app, name="prompt")
app.add_typer(cache_app, name="cache")
