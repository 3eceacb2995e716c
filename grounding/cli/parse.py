"""``grounding parse``: read boxes out of a model answer you already have."""

from __future__ import annotations

from typing import Annotated

import typer

from grounding.cli.options import parse_size, print_grounding, read_text
from grounding.parsing import parse as parse_text

__all__ = ["parse"]


def parse(
    text: Annotated[
        str | None, typer.Argument(help="The model's answer, or - to read it from standard input.")
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model name; decides the coordinate convention.")
    ] = "glm-4.5v",
    size: Annotated[
        str,
        typer.Option("--size", "-s", help="Original image size, WIDTHxHEIGHT (e.g. 1920x1080)."),
    ] = ...,  # type: ignore[assignment]
    input_size: Annotated[
        str | None,
        typer.Option(
            "--input-size",
            help="Size the model saw, for models that answer in its pixels (Qwen2.5-VL). "
            "Default: Qwen's smart_resize of --size.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print Grounding.to_dict() JSON.")
    ] = False,
) -> None:
    """Print the pixel boxes, points and polygons in a model's answer.

    \b
    Example: grounding parse "<|begin_of_box|>[[94,598,177,991]]<|end_of_box|>" --size 1200x800
    """
    image_size = parse_size(size)
    assert image_size is not None
    result = parse_text(
        read_text(text),
        model=model,
        image_size=image_size,
        input_size=parse_size(input_size, "--input-size"),
    )
    print_grounding(result, as_json=as_json)
