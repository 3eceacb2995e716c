"""Token and cost estimates from image sizes, with a price table the user can override.

GLM's server resizes each image to multiples of 28 pixels (up to ~5.9 MP); image tokens are
about (H'/28)·(W'/28) for that resized H'×W' (spec section 3).

>>> image_tokens(1920, 1080)
2691
>>> Price(0.6, 1.8, "$").cost(1_000_000, 0)
0.6
"""

from __future__ import annotations

from dataclasses import dataclass

from grounding.coords import smart_resize
from grounding.profiles import Profile

__all__ = ["PRICES", "Price", "estimate_tokens", "find_price", "image_tokens"]

GLM_MAX_PIXELS = 5_900_000


@dataclass(frozen=True)
class Price:
    """Per million tokens, in ``currency``."""

    input: float
    output: float
    currency: str = "$"

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000

    def show(self, amount: float) -> str:
        return f"{self.currency}{amount:,.4f}" if amount < 1 else f"{self.currency}{amount:,.2f}"


# (provider, model profile) -> price; the spec's table. Others: pass your own.
PRICES: dict[tuple[str, str], Price] = {
    ("zai", "glm-4.5v"): Price(0.6, 1.8, "$"),
    ("bigmodel", "glm-4.5v"): Price(2.0, 6.0, "¥"),
}


def find_price(provider: str, profile: Profile) -> Price | None:
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
