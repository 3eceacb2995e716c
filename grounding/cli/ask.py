"""``grounding locate`` and ``grounding detect``: ask a model about one image."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from grounding.cli.options import err, print_grounding
from grounding.cli.options import out as stdout
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
    typer.Option("--max-tokens", help="Longest answer, in tokens [default: the server's limit]."),
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
        "--timeout", help="Total seconds one request may take, retries and their waits included."
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
    if response is not None and response.truncated and result.is_empty:
        err.print(
            "[red]error:[/] the answer was cut off at max_tokens before any box "
            "(raise --max-tokens or use --no-thinking)"
        )
        raise typer.Exit(1)
    print_grounding(result, as_json=as_json, extra=extra)
    if response is not None and not as_json:
        u = response.usage
        if response.cached:
            stdout.print("[dim](answer from the response cache; --no-cache asks again)[/]")
        source = "cache" if response.cached else f"{response.latency:.2f} s"
        err.print(f"[dim]{u.prompt_tokens} in / {u.completion_tokens} out tokens, {source}[/]")
    if out is not None:
        from grounding.annotate import annotate

        annotate(image, result).save(out)
        err.print(f"wrote {out}")


_CLIENT_OPTIONS = ("provider", "base_url", "api_key", "model", "thinking", "max_tokens",
                   "temperature", "timeout", "stream", "download_images")  # fmt: skip


def _ask(task: Task, image: str, subject: str | list[str], options: dict[str, Any]) -> None:
    """The shared body of locate and detect: one client, one question, the report."""
    settings = {k: options[k] for k in _CLIENT_OPTIONS}
    with fail_cleanly(), Client(cache=not options["no_cache"], **settings) as client:
        _report(client.ground(task, image, subject), image, options["out"], options["as_json"])


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
    max_tokens: MaxTokens = None,
    temperature: Temperature = None,
    timeout: Timeout = 300.0,
    stream: Stream = False,
    download_images: DownloadImages = False,
) -> None:
    """Find every instance of each category; print labelled pixel boxes.

    Example: grounding detect part.jpg --classes "scratch,dent,crack" --json
    """
    names = [c.strip() for c in classes.split(",") if c.strip()]
    if not names:
        raise typer.BadParameter("give at least one class name", param_hint="--classes")
    _ask("detect", image, names, locals())
