"""``grounding prompt``: show the messages a task sends to a model."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from grounding import prompts

__all__ = ["prompt_app"]

prompt_app = typer.Typer(
    help="Print the chat messages grounding sends for a task, in the model's own phrasing.",
    no_args_is_help=True,
)

Model = Annotated[str, typer.Option("--model", "-m", help="Model name; decides the phrasing.")]
ImageUrl = Annotated[
    str,
    typer.Option("--image-url", help="URL to put in the image part (a placeholder by default)."),
]
Thinking = Annotated[
    bool | None,
    typer.Option(
        "--thinking/--no-thinking",
        help="Only changes the text for models whose sole switch is a prompt suffix.",
    ),
]


def _show(messages: list[dict[str, object]]) -> None:
    sys.stdout.write(json.dumps(messages, ensure_ascii=False, indent=2) + "\n")


def _command(
    builder: Callable[..., list[dict[str, Any]]], argument: str, doc: str
) -> Callable[..., None]:
    def command(
        subject: str = typer.Argument(..., help=argument),
        model: Model = "glm-4.5v",
        image_url: ImageUrl = prompts.IMAGE_PLACEHOLDER,
        thinking: Thinking = None,
    ) -> None:
        _show(builder(subject, model=model, image_url=image_url, thinking=thinking))

    command.__doc__ = doc
    return command


for _name, _builder, _argument, _doc in (
    ("locate", prompts.locate, 'Referring expression, e.g. "the red car".',
     "Messages asking for the box of one referring expression."),
    ("detect", prompts.detect, 'Comma-separated categories, e.g. "scratch,dent".',
     "Messages asking for every instance of each category, labelled."),
    ("point", prompts.point, "What to point at.",
     "Messages asking for a point on the described object."),
    ("gui", prompts.gui_element, 'What to do, e.g. "open the settings".',
     "Messages asking where to click on a screenshot for an instruction."),
):  # fmt: skip
    prompt_app.command(_name)(_command(_builder, _argument, _doc))
