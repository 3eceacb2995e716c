"""``grounding prompt``: show the messages a task sends to a model."""

from __future__ import annotations

import json
import sys
from typing import Annotated

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


@prompt_app.command("locate")
def locate(
    expression: Annotated[str, typer.Argument(help='Referring expression, e.g. "the red car".')],
    model: Model = "glm-4.5v",
    image_url: ImageUrl = prompts.IMAGE_PLACEHOLDER,
    thinking: Thinking = None,
) -> None:
    """Messages asking for the box of one referring expression."""
    _show(prompts.locate(expression, model=model, image_url=image_url, thinking=thinking))


@prompt_app.command("detect")
def detect(
    classes: Annotated[
        str, typer.Argument(help='Comma-separated categories, e.g. "scratch,dent".')
    ],
    model: Model = "glm-4.5v",
    image_url: ImageUrl = prompts.IMAGE_PLACEHOLDER,
    thinking: Thinking = None,
) -> None:
    """Messages asking for every instance of each category, labelled."""
    _show(prompts.detect(classes, model=model, image_url=image_url, thinking=thinking))


@prompt_app.command("point")
def point(
    expression: Annotated[str, typer.Argument(help="What to point at.")],
    model: Model = "glm-4.5v",
    image_url: ImageUrl = prompts.IMAGE_PLACEHOLDER,
    thinking: Thinking = None,
) -> None:
    """Messages asking for a point on the described object."""
    _show(prompts.point(expression, model=model, image_url=image_url, thinking=thinking))


@prompt_app.command("gui")
def gui(
    instruction: Annotated[str, typer.Argument(help='What to do, e.g. "open the settings".')],
    model: Model = "glm-4.5v",
    image_url: ImageUrl = prompts.IMAGE_PLACEHOLDER,
    thinking: Thinking = None,
) -> None:
    """Messages asking where to click on a screenshot for an instruction."""
    _show(prompts.gui_element(instruction, model=model, image_url=image_url, thinking=thinking))
