"""``grounding locate`` and ``grounding detect``: ask a model about one image."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from grounding.cli.confidence import Confidence, ConsistencyIoU, Samples, confidence_from
from grounding.cli.exits import fail_cleanly
from grounding.cli.options import check_image_output, err, print_grounding
from grounding.cli.options import out as stdout
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
from grounding.images import DEFAULT_MAX_IMAGE_PIXELS, PreparedImage, load_image, prepare_image
from grounding.labeling.classes import map_labels
from grounding.profiles import get_profile
from grounding.prompts import Task
from grounding.result import Grounding

__all__ = ["ask_once", "detect", "fail_cleanly", "locate", "report"]

Model = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model id [default: GROUNDING_MODEL, else glm-4.5v]."),
]
Provider = Annotated[
    str | None,
    typer.Option(
        "--provider",
        help="zai, bigmodel or openai (any OpenAI-compatible server) [default: "
        "GROUNDING_PROVIDER; else from --base-url's host: api.z.ai is zai, open.bigmodel.cn "
        "is bigmodel, any other is openai; else zai].",
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
MaxTokens = Annotated[
    int | None,
    typer.Option(
        "--max-tokens", help="Longest answer, in tokens [default: the server's limit].", min=1
    ),
]
Temperature = Annotated[
    float | None,
    typer.Option(
        "--temperature",
        help="Sampling temperature [default: the server's]; 0 asks for greedy, repeatable "
        "answers (sent to Z.AI/BigModel as do_sample: false).",
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Total seconds one request may take, retries and their waits included.",
        min=0.001,
    ),
]
DownloadImages = Annotated[
    bool,
    typer.Option(
        "--download-images",
        help="Send an http(s) image's bytes instead of its URL (servers without internet).",
    ),
]
Stream = Annotated[bool, typer.Option("--stream", help="Receive the answer as a stream (SSE).")]
MaxImageMP = Annotated[
    float,
    typer.Option(
        "--max-image-mp",
        help="Refuse images larger than this many megapixels before decoding them "
        "(decompression-bomb guard).",
        min=0.001,
    ),
]
KeepUnknown = Annotated[
    bool,
    typer.Option(
        "--keep-unknown",
        help="Keep boxes whose label matches none of the classes (dropped with a warning "
        "otherwise).",
    ),
]
DEFAULT_MAX_IMAGE_MP = DEFAULT_MAX_IMAGE_PIXELS / 1e6


def report(
    result: Grounding,
    image: Path | str,
    out: Path | None,
    as_json: bool,
    extra: dict[str, Any] | None = None,
    *,
    table: bool = True,
) -> None:
    """Print a result (JSON with ``extra``, or the table unless ``table=False``), the usage
    line, and draw it into ``out``."""
    response = result.response
    extra = dict(extra or {})
    if response is not None:
        extra |= {
            "usage": asdict(response.usage),
            "latency_s": round(response.latency, 3),
            "cached": response.cached,
        }
    if response is not None and response.truncated and result.is_empty:
        err.print(
            "[red]error:[/] the answer was cut off at max_tokens before any box "
            "(raise --max-tokens or use --no-thinking)"
        )
        raise typer.Exit(1)
    print_grounding(result, as_json=as_json, extra=extra, table=table)
    if response is not None and not as_json:
        u = response.usage
        if response.cached:
            stdout.print("(answer from the response cache; --no-cache asks again)", style="dim")
        source = "cache" if response.cached else f"{response.latency:.2f} s"
        err.print(f"[dim]{u.prompt_tokens} in / {u.completion_tokens} out tokens, {source}[/]")
    if out is not None:
        from grounding.annotate import annotate

        annotate(image, result).save(out)
        err.print(f"wrote {out}")


_CLIENT_OPTIONS = ("provider", "base_url", "api_key", "model", "thinking", "max_tokens",
                   "temperature", "timeout", "stream", "download_images")  # fmt: skip


def ask_once(
    task: Task, image: str, subject: str | list[str], options: dict[str, Any]
) -> tuple[Grounding, PreparedImage, str]:
    """One client, one question: the output path is checked and the image read (with the
    ``--max-image-mp`` guard) before anything is sent."""
    check_image_output(options["out"])
    settings = {k: options[k] for k in _CLIENT_OPTIONS if k in options}
    tiling = tiling_from(options)
    confidence = confidence_from(options)
    with Client(cache=not options["no_cache"], confidence=confidence, **settings) as client:
        prepared = prepare_image(
            image,
            profile=get_profile(client.model),
            max_image_pixels=round(options["max_image_mp"] * 1e6),
            inline_urls=options.get("download_images", False),
        )
        if tiling is not None:
            from grounding.tiling import ground_with_tiles

            upright = load_image(image, max_image_pixels=round(options["max_image_mp"] * 1e6))
            tiled = ground_with_tiles(client, task, upright, subject, tiling)
            return tiled, prepared, client.model
        return client.ground(task, prepared, subject), prepared, client.model


def _ask(task: Task, image: str, subject: str | list[str], options: dict[str, Any]) -> None:
    """The shared body of locate and detect: ask, map classes (detect), report."""
    with fail_cleanly():
        result, _, _ = ask_once(task, image, subject, options)
        if task == "detect":
            result = map_labels(result, subject, keep_unknown=options["keep_unknown"])
        report(result, image, options["out"], options["as_json"])


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
    max_tokens: MaxTokens = None,
    temperature: Temperature = None,
    timeout: Timeout = 300.0,
    stream: Stream = False,
    download_images: DownloadImages = False,
    max_image_mp: MaxImageMP = DEFAULT_MAX_IMAGE_MP,
    tiles: Tiles = None,
    overlap: Overlap = 0.2,
    tile_full: TileFull = True,
    merge: MergeMethod = "greedy-nmm",
    merge_metric: MergeMetric = "ios",
    merge_threshold: MergeThreshold = 0.5,
    point_distance: PointDistance = None,
    tile_max_pixels: TileMaxPixels = None,
    confidence: Confidence = "none",
    samples: Samples = 5,
    consistency_iou: ConsistencyIoU = 0.5,
) -> None:
    """Find what a referring expression describes; print its pixel box(es).

    \b
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
    max_tokens: MaxTokens = None,
    temperature: Temperature = None,
    timeout: Timeout = 300.0,
    stream: Stream = False,
    download_images: DownloadImages = False,
    max_image_mp: MaxImageMP = DEFAULT_MAX_IMAGE_MP,
    keep_unknown: KeepUnknown = False,
    tiles: Tiles = None,
    overlap: Overlap = 0.2,
    tile_full: TileFull = True,
    merge: MergeMethod = "greedy-nmm",
    merge_metric: MergeMetric = "ios",
    merge_threshold: MergeThreshold = 0.5,
    point_distance: PointDistance = None,
    tile_max_pixels: TileMaxPixels = None,
    confidence: Confidence = "none",
    samples: Samples = 5,
    consistency_iou: ConsistencyIoU = 0.5,
) -> None:
    """Find every instance of each category; print labelled pixel boxes.

    Labels are mapped onto the classes as `grounding label` maps them (case, numbered
    suffixes such as scratch-2, plurals, one-letter misspellings; with one class, unlabelled
    boxes take it).

    \b
    Example: grounding detect part.jpg --classes "scratch,dent,crack" --json
    Big photos: grounding detect survey.jpg -c scratch --tiles auto --overlap 0.2
    """
    names = [c.strip() for c in classes.split(",") if c.strip()]
    if not names:
        raise typer.BadParameter("give at least one class name", param_hint="--classes")
    _ask("detect", image, names, locals())
