"""``grounding draw``: parse an answer you already have and draw it; no model call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grounding.cli.exits import fail_cleanly
from grounding.cli.options import check_image_output, err, print_grounding, read_text
from grounding.images import load_image
from grounding.parsing import parse

__all__ = ["draw"]


def draw(
    image: Annotated[str, typer.Argument(help="The image the answer is about (path or URL).")],
    response: Annotated[
        str, typer.Option("--response", "-r", help="The model's answer, or - for standard input.")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model that wrote the answer.")
    ] = "glm-4.5v",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output image [default: <image name>.grounding.jpg]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print to_dict() JSON.")] = False,
) -> None:
    """Draw the boxes, points and polygons of a model answer on its image.

    \b
    Example: grounding draw photo.jpg -r "<|begin_of_box|>[[94,598,177,991]]<|end_of_box|>"
    """
    text = read_text(response)
    target = out or Path(f"{Path(image).stem}.grounding.jpg")
    check_image_output(target)
    with fail_cleanly():
        picture = load_image(image)
        result = parse(text, model=model, image_size=picture.size)
        from grounding.annotate import annotate

        annotate(picture, result).save(target)
    print_grounding(result, as_json=as_json)
    err.print(f"wrote {target}")
