"""``grounding point`` and ``grounding gui``: a point on an object, a click on a screen."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from rich.table import Table

from grounding.cli.ask import (
    DEFAULT_MAX_IMAGE_MP,
    ApiKey,
    BaseUrl,
    Json,
    MaxImageMP,
    MaxTokens,
    Model,
    NoCache,
    Out,
    Provider,
    Stream,
    Temperature,
    Thinking,
    Timeout,
    ask_once,
    report,
)
from grounding.cli.exits import fail_cleanly
from grounding.cli.options import out
from grounding.parsing import parse
from grounding.parsing.reasoning import split_reasoning
from grounding.profiles import Reference, get_profile
from grounding.result import Grounding

__all__ = ["gui", "gui_actions", "point"]

_CALL = re.compile(r"\b([A-Za-z_]\w*)\(")


def _xy(result: Grounding) -> list[tuple[list[float], str | None]]:
    """Every point of a result with its label, boxes counting by their centre."""
    found = [(p.tolist(), lab) for p, lab in zip(result.points, result.point_labels, strict=True)]
    for (x1, y1, x2, y2), lab in zip(result.boxes, result.labels, strict=True):
        found.append(([float((x1 + x2) / 2), float((y1 + y2) / 2)], lab))
    return found


def gui_actions(
    text: str,
    result: Grounding,
    *,
    model: str,
    image_size: tuple[int, int],
    input_size: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The actions of a GUI answer, each with its pixel point(s) on the screenshot.

    An action call such as ``left_click(start_box='[586,446]', element_info='OK')`` (GLM) or
    ``Click(63, 44)`` gives its own name; a bare point or box (Qwen, Gemini, generic JSON)
    is a ``click``. Points are in pixels of the upright original, boxes by their centre; a
    drag's ``end_box`` becomes ``end_xy``.

    ``text`` is the model's answer and ``result`` what it parsed to (for the bare point).

    >>> text = "left_click(start_box='[500,500]', element_info='OK')"
    >>> g = parse(text, model="glm-4.5v", image_size=(1000, 500))
    >>> gui_actions(text, g, model="glm-4.5v", image_size=(1000, 500))
    [{'action': 'left_click', 'xy': [500.0, 250.0], 'element': 'OK'}]
    """
    answer = split_reasoning(text).answer or ""
    calls = list(_CALL.finditer(answer))
    actions: list[dict[str, Any]] = []
    for i, call in enumerate(calls):
        end = calls[i + 1].start() if i + 1 < len(calls) else len(answer)
        found = _xy(
            parse(
                answer[call.start() : end],
                model=model,
                image_size=image_size,
                input_size=input_size,
            )
        )
        if not found:
            continue
        (xy, element), rest = found[0], found[1:]
        action: dict[str, Any] = {"action": call.group(1), "xy": xy, "element": element}
        if rest:
            action["end_xy"] = rest[0][0]
        actions.append(action)
    if not actions and _xy(result):
        xy, element = _xy(result)[0]
        actions.append({"action": "click", "xy": xy, "element": element})
    return actions


def _print_actions(actions: list[dict[str, Any]]) -> None:
    if not actions:
        out.print("no action found")
        return
    table = Table("#", "action", "x", "y", "element", "to (x y)")
    for i, action in enumerate(actions, 1):
        x, y = action["xy"]
        end = action.get("end_xy")
        table.add_row(
            str(i),
            action["action"],
            f"{x:.2f}",
            f"{y:.2f}",
            action.get("element") or "",
            f"{end[0]:.2f}  {end[1]:.2f}" if end else "",
        )
    out.print(table)


def point(
    image: Annotated[str, typer.Argument(help="Image path or http(s) URL.")],
    expression: Annotated[str, typer.Argument(help='What to point at, e.g. "the handle".')],
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
    max_image_mp: MaxImageMP = DEFAULT_MAX_IMAGE_MP,
) -> None:
    """Point at what an expression describes; print pixel points (x y).

    A model that answers with a box instead gets its box printed too.

    \b
    Example: grounding point photo.jpg "the door handle" --json
    """
    with fail_cleanly():
        result, _, _ = ask_once("point", image, expression, locals())
        report(result, image, out, as_json)


def gui(
    screenshot: Annotated[str, typer.Argument(help="Screenshot path or http(s) URL.")],
    instruction: Annotated[str, typer.Argument(help='What to do, e.g. "open the settings".')],
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
    max_image_mp: MaxImageMP = DEFAULT_MAX_IMAGE_MP,
) -> None:
    """Find where to act on a screenshot; print each action with its pixel point.

    GLM answers with an action (left_click, double_click, right_click, drag with an end
    point, ...) and the element; other models with a point, shown as a click.
    With --json: to_dict() plus "actions": [{"action", "xy", "element", "end_xy"?}].

    \b
    Example: grounding gui screen.png "open the settings"
    """
    options = locals()
    with fail_cleanly():
        result, prepared, name = ask_once("gui", screenshot, instruction, options)
        resized = get_profile(name).reference is Reference.RESIZED_INPUT
        actions = gui_actions(
            result.response.answer()[0] if result.response else "",
            result,
            model=name,
            image_size=prepared.size,
            input_size=prepared.sent_size if resized else None,
        )
        if not as_json:
            _print_actions(actions)
        report(result, screenshot, out, as_json, extra={"actions": actions}, table=False)
