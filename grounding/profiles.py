"""Model profiles: what a model's numbers mean, how to ask it, and how to switch its thinking.

>>> get_profile("zai-org/GLM-4.5V-FP8").name
'glm-4.5v'
>>> get_profile("Qwen/Qwen2.5-VL-7B-Instruct").reference
<Reference.RESIZED_INPUT: 'resized_input'>
>>> get_profile("gemini-2.5-flash").order
'yx'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Literal

from grounding.coords import Frame, smart_resize

_smart_resize = lru_cache(maxsize=1024)(smart_resize)

__all__ = [
    "DEFAULT_PROFILE",
    "Profile",
    "Reference",
    "Thinking",
    "find_profile",
    "get_profile",
    "list_profiles",
    "register_profile",
    "unregister_profile",
]


class Reference(str, Enum):
    """What the model's coordinates are measured against."""

    NORMALIZED = "normalized"  # the whole image is [0, scale] on each axis
    RESIZED_INPUT = "resized_input"  # pixels of the image the model actually saw (Qwen2.5-VL)
    PIXELS = "pixels"  # pixels of the original image


class Thinking(str, Enum):
    """How a model's reasoning is switched on and off."""

    NONE = "none"  # the model does not think
    REQUEST = "request"  # a request option (Z.AI ``thinking``, vLLM ``enable_thinking``)
    ALWAYS = "always"  # it always thinks; nothing switches it off
    PROMPT = "prompt"  # the only switch is a suffix on the prompt text


@dataclass(frozen=True)
class Profile:
    """Everything the toolkit needs to know about one model family.

    ``patterns`` are name prefixes the profile answers to; matching ignores case, provider
    prefixes (``org/``), punctuation and size suffixes (see :func:`get_profile`).
    """

    name: str
    patterns: tuple[str, ...]
    scale: float = 1000.0
    order: Literal["xy", "yx"] = "xy"
    reference: Reference = Reference.NORMALIZED
    prompt_style: str = "glm"
    thinking: Thinking = Thinking.NONE
    thinking_suffix: str = ""  # appended to the prompt to switch thinking off (Thinking.PROMPT)
    max_pixels: int | None = None  # largest image worth sending; None = no downscale
    notes: str = field(default="", compare=False)

    def frame(
        self, image_size: tuple[float, float], input_size: tuple[float, float] | None = None
    ) -> Frame:
        """The :class:`Frame` this model's bare numbers are in, for an image of ``image_size``."""
        yx = self.order == "yx"
        if self.reference is Reference.RESIZED_INPUT:
            if input_size is None:
                h, w = _smart_resize(round(image_size[1]), round(image_size[0]))
                input_size = (w, h)
            return Frame(float(input_size[0]), float(input_size[1]), yx=yx)
        if self.reference is Reference.PIXELS:
            return Frame(float(image_size[0]), float(image_size[1]), yx=yx)
        return Frame(self.scale, self.scale, yx=yx)

    def describe(self) -> str:
        """One line for tables and reports: scale, order and reference."""
        if self.reference is Reference.RESIZED_INPUT:
            where = "pixels of the resized input"
        elif self.reference is Reference.PIXELS:
            where = "pixels of the original"
        else:
            where = f"0-{self.scale:g} normalized"
        return f"{where}, {self.order[0]},{self.order[1]} order"


_GLM_MAX_PIXELS = 5_900_000  # the GLM server's own resize cap (spec section 3)

_BUILTIN: tuple[Profile, ...] = (
    Profile("glm-4.5v", ("glm-4.5v",), thinking=Thinking.REQUEST, max_pixels=_GLM_MAX_PIXELS),
    Profile("glm-4.6v", ("glm-4.6v",), thinking=Thinking.REQUEST, max_pixels=_GLM_MAX_PIXELS),
    Profile(
        "glm-4.6v-flash",
        ("glm-4.6v-flash",),
        thinking=Thinking.REQUEST,
        max_pixels=_GLM_MAX_PIXELS,
    ),
    Profile(
        "glm-4.1v-thinking",
        ("glm-4.1v",),
        thinking=Thinking.ALWAYS,
        max_pixels=_GLM_MAX_PIXELS,
        notes="always thinks; writes <think>…</think><answer>…</answer>",
    ),
    Profile("glm-5v-turbo", ("glm-5v",), thinking=Thinking.REQUEST, max_pixels=_GLM_MAX_PIXELS),
    Profile("qwen-vl", ("qwen-vl",), prompt_style="qwen-vl"),
    Profile("qwen2-vl", ("qwen2-vl",), prompt_style="qwen2-vl"),
    Profile(
        "qwen2.5-vl",
        ("qwen2.5-vl",),
        reference=Reference.RESIZED_INPUT,
        prompt_style="qwen",
        max_pixels=12_845_056,
    ),
    Profile("qwen3-vl", ("qwen3-vl",), prompt_style="qwen"),
    Profile("internvl", ("internvl",), prompt_style="internvl"),
    Profile("minicpm-v", ("minicpm",), prompt_style="internvl"),
    Profile("cogvlm", ("cogvlm", "cogagent"), prompt_style="cogvlm"),
    Profile("deepseek-vl2", ("deepseek-vl",), scale=999.0, prompt_style="deepseek"),
    Profile("paligemma", ("paligemma",), scale=1024.0, order="yx", prompt_style="paligemma"),
    Profile("florence-2", ("florence",), prompt_style="florence"),
    Profile("kosmos-2", ("kosmos",), scale=1.0, prompt_style="kosmos"),
    Profile("molmo", ("molmo",), scale=100.0, prompt_style="molmo"),
    Profile("gemini", ("gemini",), order="yx", prompt_style="gemini", thinking=Thinking.REQUEST),
    Profile("moondream", ("moondream",), scale=1.0, prompt_style="generic"),
    Profile("kimi-vl", ("kimi-vl",), scale=1.0, prompt_style="generic"),
)

DEFAULT_PROFILE = Profile(
    "default",
    (),
    thinking=Thinking.REQUEST,
    notes="GLM convention: 0-1000, x,y",
)

_registered: list[Profile] = []
_SEPARATORS = re.compile(r"[\s\-_.:]+")
_found: dict[str, Profile | None] = {}  # memo of find_profile, cleared by register_profile


def _key(name: str) -> str:
    """Lower case, no provider prefix, no separators: ``Qwen/Qwen2.5-VL`` -> ``qwen25vl``."""
    return _SEPARATORS.sub("", name.rsplit("/", 1)[-1].lower())


def _pattern_keys(profiles: list[Profile] | tuple[Profile, ...]) -> list[tuple[str, Profile]]:
    keys = {(_key(p), profile) for profile in profiles for p in (profile.name, *profile.patterns)}
    return [(k, profile) for k, profile in keys if k]


_BUILTIN_KEYS = _pattern_keys(_BUILTIN)


def find_profile(model: str) -> Profile | None:
    """The profile for ``model``, or None when no profile answers to that name.

    The longest matching pattern wins, so ``glm-4.6v-flash`` beats ``glm-4.6v``; profiles
    registered by the user are looked at before the built-in ones.
    """
    if model in _found:
        return _found[model]
    key = _key(model)
    best: Profile | None = None
    for table in (_pattern_keys(_registered), _BUILTIN_KEYS):
        best_len = 0
        for pattern, profile in table:
            if len(pattern) > best_len and key.startswith(pattern):
                best, best_len = profile, len(pattern)
        if best is not None:
            break
    if len(_found) < 4096:
        _found[model] = best
    return best


def get_profile(model: str | Profile) -> Profile:
    """The profile for ``model``; unknown names get the GLM-convention default.

    Use :func:`find_profile` to tell an unknown name apart; :func:`grounding.parse` records
    the fallback in the result's warnings.
    """
    if isinstance(model, Profile):
        return model
    return find_profile(model) or DEFAULT_PROFILE


def register_profile(profile: Profile) -> Profile:
    """Add a profile of your own; it wins over built-in ones with the same name or pattern.

    >>> register_profile(Profile("my-vlm", ("my-vlm",), scale=100.0)).name
    'my-vlm'
    """
    _registered[:] = [p for p in _registered if p.name != profile.name]
    _registered.insert(0, profile)
    _found.clear()
    return profile


def unregister_profile(name: str) -> None:
    """Remove a profile added with :func:`register_profile` (built-in ones stay)."""
    _registered[:] = [p for p in _registered if p.name != name]
    _found.clear()


def list_profiles() -> list[Profile]:
    """Every known profile: the user's first, then the built-in ones."""
    return [*_registered, *_BUILTIN]
