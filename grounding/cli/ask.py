"""``grounding locate`` and ``grounding detect``: ask a model about one image."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from grounding.cli.options import err, print_grounding
from grounding.cli.tiles import (
    MergeMethod,
    MergeMetric,
    MergeThreshold,
    Overlap,
    PointDistance,
    TileFull,
    TileMaxPixels,
    Tiles,
    tiling_from,
)
from grounding.client import Client
from grounding.errors import APIConnectionError, APIError, ConfigurationError, ImageError
from grounding.prompts import Task
from grounding.result import Grounding

__all__ = ["detect", "fail_cleanly", "locate"]

Model = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model id [default: GROUNDING_MODEL, else glm-4.5v]."),
]
Provider = Annotated[
    str | None,
    typer.Option(
        "--provider",
        help="zai, bigmodel or openai (any OpenAI-compatible server) [default: "
        "GROUNDING_PROVIDER; openai if --base-url is given; else zai].",
    ),
]
BaseUrl = Annotated[
    str | None,
    typer.Option("--base-url", help="API base URL, e.g. http://localhost:8000/v1 for vLLM/SGLang."),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="API key [default: ZAI_API_KEY, ZHIPUAI_API_KEY or OPENAI_API_KEY by provider].",
        show_default=False,
    ),
]
Thinking = Annotated[
    bool,
    typer.Option("--thinking/--no-thinking", help="Let the model reason first (slower, costlier)."),
]
Out = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write the image with the result drawn on it.")
]
Json = Annotated[bool, typer.Option("--json", help="Print Grounding.to_dict() JSON plus usage.")]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the response cache.")
]
MaxTokens = Annotated[int, typer.Option("--max-tokens", help="Longest answer, in tokens.")]
Temperature = Annotated[
    float | None,
    typer.Option("--temperature", help="Sampling temperature [default: the server's]."),
]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait for an answer.")]
Stream = Annotated[bool, typer.Option("--stream", help="Receive the answer as a stream (SSE).")]


@contextmanager
def fail_cleanly() -> Iterator[None]:
    """One clear line and the right exit code: 2 for settings and input, 1 for API refusals."""
    try:
        yield
    except (ConfigurationError, ImageError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except APIConnectionError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except APIError as exc:
        err.print(f"[red]error:[/] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


def _report(result: Grounding, image: Path | str, out: Path | None, as_json: bool) -> None:
    response = result.response
    extra = {}
    if response is not None:
        extra = {
            "usage": asdict(response.usage),
            "latency_s": round(response.latency, 3),
            "cached": response.cached,
        }
    print_grounding(result, as_json=as_json, extra=extra)
    if response is not None and not as_json:
        u = response.usage
        source = "cache" if response.cached else f"{response.latency:.2f} s"
        err.print(f"[dim]{u.prompt_tokens} in / {u.completion_tokens} out tokens, {source}[/]")
    if out is not None:
        from grounding.annotate import annotate

        annotate(image, result).save(out)
        err.print(f"wrote {out}")


_CLIENT_OPTIONS = ("provider", "base_url", "api_key", "model", "thinking", "max_tokens",
                   "temperature", "timeout", "stream")  # fmt: skip


def _ask(task: Task, image: str, subject: str | list[str], options: dict[str, Any]) -> None:
    """The shared body of locate and detect: one client, one question, the report."""
    settings = {k: options[k] for k in _CLIENT_OPTIONS}
    tiling = tiling_from(options)
    with fail_cleanly(), Client(cache=not options["no_cache"], **settings) as client:
        if tiling is None:
            result = client.ground(task, image, subject)
        else:
            from grounding.tiling import ground_with_tiles

            result = ground_with_tiles(client, task, image, subject, tiling)
        _report(result, image, options["out"], options["as_json"])


def locate(
    image: Annotated[str, typer.Argument(help="Image path or http(s) URL.")],
    expression: Annotated[str, typer.Argument(help='What to find, e.g. "the red car".')],
    model: Model = None,
    provider: Provider = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    thinking: Thinking = False,
    out: Out = None,
    as_json: Json = False,
    no_cache: NoCache = False,
    max_tokens: MaxTokens = 4096,
    temperature: Temperature = None,
    timeout: Timeout = 300.0,
    stream: Stream = False,
    tiles: Tiles = None,
    overlap: Overlap = 0.2,
    tile_full: TileFull = True,
    merge: MergeMethod = "greedy-nmm",
    merge_metric: MergeMetric = "ios",
    merge_threshold: MergeThreshold = 0.5,
    point_distance: PointDistance = None,
    tile_max_pixels: TileMaxPixels = None,
) -> None:
    """Find what a referring expression describes; print its pixel box(es).

    Example: grounding locate photo.jpg "the second bottle from the right" --out boxes.jpg
    """
    _ask("locate", image, expression, locals())


def detect(
    image: Annotated[str, typer.Argument(help="Image path or http(s) URL.")],
    classes: Annotated[
        str, typer.Option("--classes", "-c", help='Comma-separated categories: "scratch,dent".')
    ],
    model: Model = None,
    provider: Provider = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    thinking: Thinking = False,
    out: Out = None,
    as_json: Json = False,
    no_cache: NoCache = False,
    max_tokens: MaxTokens = 4096,
    temperature: Temperature = None,
    timeout: Timeout = 300.0,
    stream: Stream = False,
    tiles: Tiles = None,
    overlap: Overlap = 0.2,
    tile_full: TileFull = True,
    merge: MergeMethod = "greedy-nmm",
    merge_metric: MergeMetric = "ios",
    merge_threshold: MergeThreshold = 0.5,
    point_distance: PointDistance = None,
    tile_max_pixels: TileMaxPixels = None,
) -> None:
    """Find every instance of each category; print labelled pixel boxes.

    Example: grounding detect part.jpg --classes "scratch,dent,crack" --json
    Big photos: grounding detect survey.jpg -c scratch --tiles auto --overlap 0.2
    """
    names = [c.strip() for c in classes.split(",") if c.strip()]
    if not names:
        raise typer.BadParameter("give at least one class name", param_hint="--classes")
    _ask("detect", image, names, locals())
