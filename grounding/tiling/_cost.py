"""Token estimates for a tile plan: every window is one request with the prompt.

>>> from grounding.profiles import get_profile
>>> plan = plan_tiles((8000, 6000), "2x2", overlap=0.0, full=False)
>>> estimate_tiled_tokens(plan, "find scratches", get_profile("glm-4.5v"), 200)
(30092, 800)
"""

from __future__ import annotations

from grounding.profiles import Profile
from grounding.tiling._plan import TilePlan, plan_tiles

__all__ = ["estimate_tiled_tokens", "plan_tiles"]


def estimate_tiled_tokens(
    plan: TilePlan, prompt: str, profile: Profile, output_tokens: int
) -> tuple[int, int]:
    """(prompt, completion) tokens for all windows of ``plan``."""
    from grounding.labeling.cost import estimate_tokens  # labeling's runner imports tiling

    tokens_in = tokens_out = 0
    for window in plan.windows:
        a, b = estimate_tokens(window.width, window.height, prompt, profile, output_tokens)
        tokens_in += a
        tokens_out += b
    return tokens_in, tokens_out
