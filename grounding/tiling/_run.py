"""Ask a model tile by tile and merge the answers into one result in pixels of the original.

Each window (tile, or the whole image) is cut from the upright original and sent as an image
of its own, so the response cache keys on each tile's bytes: a rerun with another merge
setting sends nothing. Tiles go out concurrently (threads for :class:`~grounding.Client`,
tasks for :class:`~grounding.AsyncClient`; the client's connection limit still applies).

>>> tiling = Tiling(tiles="2x2", overlap=0.1, full=False)
>>> tiling.plan((4000, 3000), "glm-4.5v").describe()
'4000x3000: 2x2 tiles of 2106x1579 (4 requests)'
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from grounding import prompts
from grounding.images import ImageSource, load_image
from grounding.profiles import Profile, get_profile
from grounding.result import Grounding
from grounding.tiling._merge import (
    MergeOptions,
    merge_labelled_boxes,
    merge_points,
    merge_polygons,
)
from grounding.tiling._plan import TilePlan, Window, check_overlap, parse_grid, plan_tiles

if TYPE_CHECKING:
    from grounding.client import AsyncClient, Client, Response

__all__ = ["Tiling", "aground_tiled", "combine", "cut", "ground_tiled"]

Ask = Callable[[Image.Image], Grounding]
AsyncAsk = Callable[[Image.Image], Awaitable[Grounding]]


@dataclass(frozen=True)
class Tiling:
    """Tiling settings: the grid (``"auto"``, ``"RxC"`` or ``(rows, cols)``), the overlap
    fraction, whether the whole image is asked too, how answers merge, and the pixel cap
    ``auto`` fits tiles into (None: the model profile's)."""

    tiles: str | tuple[int, int] = "auto"
    overlap: float = 0.2
    full: bool = True
    merge: MergeOptions = field(default_factory=MergeOptions)
    max_pixels: int | None = None
    workers: int = 8  # windows cut and in flight at once, per image

    def __post_init__(self) -> None:
        check_overlap(self.overlap)  # a bad grid or overlap fails here, not per image
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if isinstance(self.tiles, str):
            parse_grid(self.tiles)
        else:
            parse_grid("x".join(map(str, self.tiles)))

    def plan(self, image_size: tuple[int, int], model: str | Profile) -> TilePlan:
        """The windows for an image of ``image_size`` asked of ``model``."""
        cap = self.max_pixels if self.max_pixels is not None else get_profile(model).max_pixels
        return plan_tiles(
            image_size, self.tiles, overlap=self.overlap, max_pixels=cap, full=self.full
        )

    def describe(self) -> dict[str, Any]:
        """The settings as plain data (for job stores and reports)."""
        return {
            "tiles": self.tiles if isinstance(self.tiles, str) else "x".join(map(str, self.tiles)),
            "overlap": self.overlap,
            "full": self.full,
            "merge": self.merge.method,
            "metric": self.merge.metric,
            "threshold": self.merge.threshold,
            "point_distance": self.merge.point_distance,
            "max_pixels": self.max_pixels,
        }


def _crop(image: Image.Image, window: Window) -> Image.Image:
    return image if window.full else image.crop(window.box)


def cut(image: Image.Image, plan: TilePlan) -> list[Image.Image]:
    """The image of each window: a crop of the upright original, or the original itself."""
    return [_crop(image, w) for w in plan.windows]


def _shifted(result: Grounding, window: Window) -> Grounding:
    offset = np.array([window.x, window.y], dtype=np.float64)
    return Grounding(
        boxes=result.boxes + np.tile(offset, 2),
        labels=list(result.labels),
        points=result.points + offset,
        point_labels=list(result.point_labels),
        polygons=[p + offset for p in result.polygons],
        polygon_labels=list(result.polygon_labels),
    )


def _where(window: Window) -> str:
    return (
        "whole image"
        if window.full
        else f"tile {window.x},{window.y} {window.width}x{window.height}"
    )


def _combined_response(parts: Sequence[tuple[Window, Grounding]]) -> Response | None:
    from grounding.client import Response, Usage

    responses = [(w, g.response) for w, g in parts if g.response is not None]
    if not responses:
        return None
    usages = [r.usage for _, r in responses]
    reasons = [r.finish_reason for _, r in responses]
    return Response(
        content="\n".join(f"[{_where(w)}] {r.answer()[0]}" for w, r in responses),
        usage=Usage(
            sum(u.prompt_tokens for u in usages),
            sum(u.completion_tokens for u in usages),
            sum(u.total_tokens for u in usages),
        ),
        latency=max(r.latency for _, r in responses),
        finish_reason="length" if "length" in reasons else reasons[0],
        model=responses[0][1].model,
        raw=json.dumps(
            [{"window": list(w.box), "full": w.full, "raw": r.raw} for w, r in responses],
            ensure_ascii=False,
        ),
        cached=all(r.cached for _, r in responses),
        attempts=sum(r.attempts for _, r in responses),
    )


def combine(
    plan: TilePlan, results: Sequence[Grounding], merge: MergeOptions | None = None
) -> Grounding:
    """One result in pixels of the original from each window's result (in window pixels)."""
    merge = merge or MergeOptions()
    parts = list(zip(plan.windows, results, strict=True))
    shifted = [_shifted(g, w) for w, g in parts]
    boxes = np.vstack([g.boxes for g in shifted]) if shifted else np.empty((0, 4))
    labels = [lab for g in shifted for lab in g.labels]
    points = np.vstack([g.points for g in shifted]) if shifted else np.empty((0, 2))
    point_labels = [lab for g in shifted for lab in g.point_labels]
    polygons = [p for g in shifted for p in g.polygons]
    polygon_labels = [lab for g in shifted for lab in g.polygon_labels]
    if plan.tiled:
        boxes, labels = merge_labelled_boxes(boxes, labels, merge)
        distance = merge.point_distance
        if distance is None:
            distance = 0.01 * min(plan.image_size)
        points, point_labels = merge_points(points, point_labels, distance)
        polygons, polygon_labels = merge_polygons(polygons, polygon_labels, merge)
    warnings = list(
        dict.fromkeys(
            f"{_where(w)}: {text}" if plan.tiled else text for w, g in parts for text in g.warnings
        )
    )
    result = Grounding(
        boxes=boxes,
        labels=labels,
        points=points,
        point_labels=point_labels,
        polygons=polygons,
        polygon_labels=polygon_labels,
        warnings=warnings,
    )
    result.image_size = plan.image_size
    result.response = _combined_response(parts) if plan.tiled else results[0].response
    return result


def _mapped(result: Grounding, classes: Sequence[str] | None) -> Grounding:
    if classes is None:
        return result
    from grounding.labeling.classes import map_labels  # labeling's runner imports tiling

    return map_labels(result, classes, keep_unknown=True)


def _load(image: ImageSource) -> Image.Image:
    return image if isinstance(image, Image.Image) else load_image(image)


def ground_tiled(
    image: ImageSource,
    ask: Ask,
    tiling: Tiling,
    model: str | Profile,
    classes: Sequence[str] | None = None,
) -> Grounding:
    """Ask ``ask`` about each window of ``image`` in threads and merge the answers.

    With ``classes`` each window's labels are first mapped onto them (as ``grounding label``
    maps labels), so ``scratch-2`` from one tile and ``scratch`` from another merge as one
    class; labels that match no class are kept for the caller to judge.

    At most ``tiling.workers`` windows are cut and in flight at once (a 100 MP image's crops
    are not all held together). When a window fails, the others still finish, then the first
    failure is raised.
    """
    upright = _load(image)
    plan = tiling.plan(upright.size, model)

    def one(window: Window) -> Grounding:
        return _mapped(ask(_crop(upright, window)), classes)

    if len(plan.windows) == 1:
        return combine(plan, [one(plan.windows[0])], tiling.merge)
    with ThreadPoolExecutor(min(tiling.workers, len(plan.windows)), "grounding-tile") as pool:
        results = list(pool.map(one, plan.windows))
    return combine(plan, results, tiling.merge)


async def aground_tiled(
    image: ImageSource,
    ask: AsyncAsk,
    tiling: Tiling,
    model: str | Profile,
    classes: Sequence[str] | None = None,
) -> Grounding:
    """The async twin of :func:`ground_tiled`: the windows are asked as concurrent tasks,
    at most ``tiling.workers`` at once.

    When a window fails, the others still finish (their answers are paid for, and cached for
    the rerun), then the first failure is raised.
    """
    upright = await asyncio.to_thread(_load, image)
    plan = tiling.plan(upright.size, model)
    slots = asyncio.Semaphore(tiling.workers)

    async def one(window: Window) -> Grounding:
        async with slots:  # cut only when there is room to send
            return _mapped(await ask(_crop(upright, window)), classes)

    answers = await asyncio.gather(*(one(w) for w in plan.windows), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return combine(plan, [a for a in answers if isinstance(a, Grounding)], tiling.merge)


def _question(
    client: Client | AsyncClient,
    task: prompts.Task,
    subject: str | Sequence[str],
    model: str | None,
    thinking: bool | None,
) -> tuple[str, str, list[str] | None]:
    """The prompt, the model name, and for detect the classes to map labels onto."""
    name = model or client.model
    if task == "detect" and isinstance(subject, str):
        subject = [c.strip() for c in subject.split(",") if c.strip()]
    text = prompts.prompt_text(task, subject, model=get_profile(name), thinking=thinking)
    return text, name, list(subject) if task == "detect" else None


def ground_with_tiles(
    client: Client,
    task: prompts.Task,
    image: ImageSource,
    subject: str | Sequence[str],
    tiling: Tiling,
    *,
    model: str | None = None,
    thinking: bool | None = None,
) -> Grounding:
    """``client.ground`` over tiles: each window asked with the task's prompt, then merged
    (for detect, by class after mapping each window's labels onto the classes)."""
    text, name, classes = _question(client, task, subject, model, thinking)
    return ground_tiled(
        image,
        lambda tile: client.ask(tile, text, model=name, thinking=thinking),
        tiling,
        name,
        classes,
    )


async def aground_with_tiles(
    client: AsyncClient,
    task: prompts.Task,
    image: ImageSource,
    subject: str | Sequence[str],
    tiling: Tiling,
    *,
    model: str | None = None,
    thinking: bool | None = None,
) -> Grounding:
    """The async twin of :func:`ground_with_tiles`."""
    text, name, classes = _question(client, task, subject, model, thinking)

    async def ask(tile: Image.Image) -> Grounding:
        return await client.ask(tile, text, model=name, thinking=thinking)

    return await aground_tiled(image, ask, tiling, name, classes)
