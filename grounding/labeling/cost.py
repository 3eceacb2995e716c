"""Token and cost estimates from image sizes, with a price table the user can override.

GLM's server resizes each image to multiples of 28 pixels (up to ~5.9 MP); image tokens are
about (H'/28)·(W'/28) for that resized H'×W' (spec section 3).

>>> image_tokens(1920, 1080)
2691
>>> Price(0.6, 1.8, "$").cost(1_000_000, 0)
0.6
>>> round(Price(0.6, 1.8, "$", cached_input=0.11).cost(1_000_000, 0, cached_tokens=500_000), 3)
0.355
"""

from __future__ import annotations

from dataclasses import dataclass

from grounding.coords import smart_resize
from grounding.profiles import Profile, get_profile

__all__ = ["PRICES", "Price", "estimate_tokens", "find_price", "image_tokens"]

GLM_MAX_PIXELS = 5_900_000


@dataclass(frozen=True)
class Price:
    """Per million tokens, in ``currency``; ``cached_input`` is the price of prompt tokens
    the provider served from its prompt cache (None: unknown, billed as ``input``)."""

    input: float
    output: float
    currency: str = "$"
    cached_input: float | None = None

    def cost(
        self, prompt_tokens: float, completion_tokens: float, cached_tokens: float = 0
    ) -> float:
        """The cost of one answer; ``cached_tokens`` (part of ``prompt_tokens``) at the cached
        price where one is known."""
        cached = min(cached_tokens, prompt_tokens) if self.cached_input is not None else 0
        fresh = prompt_tokens - cached
        cached_cost = cached * (self.cached_input or 0.0)
        return (fresh * self.input + cached_cost + completion_tokens * self.output) / 1_000_000

    def show(self, amount: float) -> str:
        return f"{self.currency}{amount:,.4f}" if amount < 1 else f"{self.currency}{amount:,.2f}"


# (provider, model profile) -> price; the spec's table. Others: pass your own.
# Z.AI: https://docs.z.ai/guides/overview/pricing, "Vision Models" (input / cached input /
# output per 1M tokens, USD), as captured 2026-07-31; glm-4.5v agrees with the spec.
# Keys are model ids; a lookup by profile name alone would price glm-4.6v-flashx (paid) as
# glm-4.6v-flash (free), since both share that profile, so the free model is left out and
# flashx is found only by its exact id. BigModel: only glm-4.5v (spec section 3); BigModel
# prices its newer vision models by input-length tier, which this table cannot express, so
# they are left out (pass --price-in/--price-out).
PRICES: dict[tuple[str, str], Price] = {
    ("zai", "glm-4.5v"): Price(0.6, 1.8, "$", cached_input=0.11),
    ("zai", "glm-4.6v"): Price(0.3, 0.9, "$", cached_input=0.05),
    ("zai", "glm-4.6v-flashx"): Price(0.04, 0.4, "$", cached_input=0.004),
    ("zai", "glm-5v-turbo"): Price(1.2, 4.0, "$", cached_input=0.24),
    ("bigmodel", "glm-4.5v"): Price(2.0, 6.0, "¥"),
}


def find_price(provider: str, profile: Profile, model: str | None = None) -> Price | None:
    """The price of ``model`` (its exact id, case-insensitive) on ``provider``, else of the
    profile's name, else None.

    >>> from grounding.profiles import get_profile
    >>> find_price("zai", get_profile("glm-4.6v-flashx")) is None  # flashx is not flash
    True
    >>> find_price("zai", get_profile("glm-4.6v-flashx"), "GLM-4.6V-FlashX").input
    0.04
    """
    if model is not None:
        found = PRICES.get((provider, model.strip().lower().rsplit("/", 1)[-1]))
        if found is not None:
            return found
        if get_profile(model).name != model.strip().lower().rsplit("/", 1)[-1]:
            return None  # a variant of the profile's model, with a price of its own
    return PRICES.get((provider, profile.name))


def image_tokens(width: int, height: int, max_pixels: int = GLM_MAX_PIXELS) -> int:
    h, w = smart_resize(height, width, factor=28, max_pixels=max_pixels)
    return (h // 28) * (w // 28)


def estimate_tokens(
    width: int, height: int, prompt: str, profile: Profile, output_tokens: int
) -> tuple[int, int]:
    """(prompt, completion) tokens for one image and prompt: the image, ~4 characters per
    text token plus the chat template's overhead, and the expected answer length."""
    pixels = profile.max_pixels or GLM_MAX_PIXELS
    return image_tokens(width, height, pixels) + len(prompt) // 4 + 20, output_tokens
