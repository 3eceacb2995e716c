"""One-call functions: ``grounding.locate(image, "the red car")`` and friends.

Each opens a client from the arguments and the environment (see
:func:`grounding.client.resolve_settings`), asks once, and closes it. For many images, keep
one :class:`~grounding.client.Client` or :class:`~grounding.client.AsyncClient` open instead.

>>> import grounding
>>> result = grounding.locate("photo.jpg", "the red car", provider="zai")  # doctest: +SKIP
>>> result.boxes  # doctest: +SKIP
array([[412.1,  96.3, 618.4, 540.2]])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from grounding.client import AsyncClient, Client
from grounding.images import ImageSource
from grounding.result import Grounding

__all__ = ["adetect", "alocate", "detect", "locate"]


def locate(
    image: ImageSource,
    expression: str,
    *,
    model: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> Grounding:
    """The box (or boxes) of one referring expression, in pixels of the upright original."""
    with Client(provider, base_url=base_url, api_key=api_key, model=model, **options) as client:
        return client.locate(image, expression)


def detect(
    image: ImageSource,
    classes: str | Iterable[str],
    *,
    model: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> Grounding:
    """Every instance of each category (a list or ``"scratch, dent"``), labelled."""
    with Client(provider, base_url=base_url, api_key=api_key, model=model, **options) as client:
        return client.detect(image, classes)


async def alocate(
    image: ImageSource,
    expression: str,
    *,
    model: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> Grounding:
    """The async twin of :func:`locate`."""
    async with AsyncClient(
        provider, base_url=base_url, api_key=api_key, model=model, **options
    ) as client:
        return await client.locate(image, expression)


async def adetect(
    image: ImageSource,
    classes: str | Iterable[str],
    *,
    model: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> Grounding:
    """The async twin of :func:`detect`."""
    async with AsyncClient(
        provider, base_url=base_url, api_key=api_key, model=model, **options
    ) as client:
        return await client.detect(image, classes)
