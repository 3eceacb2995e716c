"""One-call functions: ``grounding.locate(image, "the red car")`` and friends.

Each opens a client from the arguments and the environment (see
:func:`grounding.client.resolve_settings`), asks once, and closes it. For many images, keep
one :class:`~grounding.client.Client` or :class:`~grounding.client.AsyncClient` open instead.

>>> import grounding
>>> result = grounding.locate("photo.jpg", "the red car", provider="zai")  # doctest: +SKIP
>>> result.boxes  # doctest: +SKIP
array([[412.1,  96.3, 618.4, 540.2]])

``tiles="auto"`` (or ``"RxC"``) asks about overlapping tiles at full resolution, plus the whole
image unless ``tile_full=False``, and merges the answers (see :mod:`grounding.tiling`):

>>> grounding.detect("survey.tif", "scratch", tiles="auto", overlap=0.2)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from grounding.client import AsyncClient, Client
from grounding.images import ImageSource
from grounding.labeling.classes import map_labels
from grounding.result import Grounding
from grounding.tiling import MergeOptions, Tiling, aground_with_tiles, ground_with_tiles

__all__ = ["adetect", "alocate", "detect", "locate"]

Tiles = str | tuple[int, int] | Tiling | None


def _tiling(
    tiles: Tiles,
    overlap: float,
    tile_full: bool,
    merge: MergeOptions | None,
    options: dict[str, Any],
) -> Tiling | None:
    if tiles is None or isinstance(tiles, Tiling):
        return tiles
    return Tiling(
        tiles, overlap, tile_full, merge or MergeOptions(), max_pixels=options.get("max_pixels")
    )


def locate(
    image: ImageSource,
    expression: str,
    *,
    model: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    tiles: Tiles = None,
    overlap: float = 0.2,
    tile_full: bool = True,
    merge: MergeOptions | None = None,
    **options: Any,
) -> Grounding:
    """The box (or boxes) of one referring expression, in pixels of the upright original.

    With ``tiles`` (``"auto"``, ``"RxC"`` or a :class:`~grounding.tiling.Tiling`) each tile is
    asked on its own (``overlap``: the fraction neighbours share; ``tile_full``: ask the whole
    image too; ``merge``: how answers join). Relative words ("the left one") then refer to a
    tile, so tiles suit expressions that name a kind of thing.
    """
    tiling = _tiling(tiles, overlap, tile_full, merge, options)
    with Client(provider, base_url=base_url, api_key=api_key, model=model, **options) as client:
        if tiling is not None:
            return ground_with_tiles(client, "locate", image, expression, tiling)
        return client.locate(image, expression)


def detect(
    image: ImageSource,
    classes: str | Iterable[str],
    *,
    model: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    keep_unknown: bool = False,
    tiles: Tiles = None,
    overlap: float = 0.2,
    tile_full: bool = True,
    merge: MergeOptions | None = None,
    **options: Any,
) -> Grounding:
    """Every instance of each category (a list or ``"scratch, dent"``), labelled.

    Labels are mapped onto the classes as ``grounding label`` maps them (``scratch-2`` ->
    ``scratch``; with one class an unlabelled box takes it); shapes whose label matches no
    class are dropped with a warning unless ``keep_unknown``. ``to_detections()`` of the
    result numbers the classes by the list's order:

    >>> parts = grounding.detect("part.jpg", ["scratch", "dent"])  # doctest: +SKIP
    >>> parts.to_detections().class_id  # 0 scratch, 1 dent, in every image  # doctest: +SKIP

    ``tiles``, ``overlap``, ``tile_full`` and ``merge`` as for :func:`locate`.
    """
    names = _names(classes)
    tiling = _tiling(tiles, overlap, tile_full, merge, options)
    with Client(provider, base_url=base_url, api_key=api_key, model=model, **options) as client:
        if tiling is not None:
            result = ground_with_tiles(client, "detect", image, names, tiling)
        else:
            result = client.detect(image, names)
    return map_labels(result, names, keep_unknown=keep_unknown)


async def alocate(
    image: ImageSource,
    expression: str,
    *,
    model: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    tiles: Tiles = None,
    overlap: float = 0.2,
    tile_full: bool = True,
    merge: MergeOptions | None = None,
    **options: Any,
) -> Grounding:
    """The async twin of :func:`locate`."""
    tiling = _tiling(tiles, overlap, tile_full, merge, options)
    async with AsyncClient(
        provider, base_url=base_url, api_key=api_key, model=model, **options
    ) as client:
        if tiling is not None:
            return await aground_with_tiles(client, "locate", image, expression, tiling)
        return await client.locate(image, expression)


async def adetect(
    image: ImageSource,
    classes: str | Iterable[str],
    *,
    model: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    keep_unknown: bool = False,
    tiles: Tiles = None,
    overlap: float = 0.2,
    tile_full: bool = True,
    merge: MergeOptions | None = None,
    **options: Any,
) -> Grounding:
    """The async twin of :func:`detect`."""
    names = _names(classes)
    tiling = _tiling(tiles, overlap, tile_full, merge, options)
    async with AsyncClient(
        provider, base_url=base_url, api_key=api_key, model=model, **options
    ) as client:
        if tiling is not None:
            result = await aground_with_tiles(client, "detect", image, names, tiling)
        else:
            result = await client.detect(image, names)
    return map_labels(result, names, keep_unknown=keep_unknown)


def _names(classes: str | Iterable[str]) -> list[str]:
    raw = classes.split(",") if isinstance(classes, str) else [str(c) for c in classes]
    names = [c.strip() for c in raw if c.strip()]
    if not names:
        raise ValueError("detect needs at least one class name")
    return names
