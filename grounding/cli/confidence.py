"""The confidence options shared by ``locate``, ``detect``, ``label`` and ``bench``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from grounding.confidence import METHODS, ConfidenceOptions
from grounding.errors import ConfigurationError

__all__ = ["Confidence", "ConsistencyIoU", "Samples", "confidence_from"]

_PANEL = "Confidence (a score for every box)"

Confidence = Annotated[
    str,
    typer.Option(
        "--confidence",
        help="Score every box: none; logprobs (from the token log-probabilities, where the "
        "server returns them: vLLM, SGLang; not Z.AI or BigModel); consistency (any provider: "
        "--samples sampled answers fused, a box scored by how many agree; costs --samples "
        "times the requests).",
        rich_help_panel=_PANEL,
    ),
]
Samples = Annotated[
    int,
    typer.Option(
        "--samples", help="Answers drawn for --confidence consistency.", rich_help_panel=_PANEL
    ),
]
ConsistencyIoU = Annotated[
    float,
    typer.Option(
        "--consistency-iou",
        help="Boxes of a class in different answers are one box at IoU >= this.",
        rich_help_panel=_PANEL,
    ),
]


def confidence_from(options: Mapping[str, Any]) -> ConfidenceOptions:
    """The :class:`ConfidenceOptions` the command's options ask for; a bad value is a
    one-line usage error naming its option."""
    method = str(options.get("confidence", "none")).lower()
    if method not in METHODS:
        raise typer.BadParameter(f"use one of {', '.join(METHODS)}", param_hint="--confidence")
    try:
        return ConfidenceOptions(
            method,
            samples=options.get("samples", 5),
            iou=options.get("consistency_iou", 0.5),
        )
    except ConfigurationError as exc:
        hint = "--samples" if "samples" in str(exc) else "--consistency-iou"
        raise typer.BadParameter(str(exc), param_hint=hint) from None
