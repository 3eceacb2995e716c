"""grounding: turn vision-language model answers into exact pixel boxes, points and polygons.

>>> import grounding
>>> g = grounding.parse("[[94,598,177,991]]", model="glm-4.5v", image_size=(1200, 800))
>>> g.boxes.round(1).tolist()
[[112.8, 478.4, 212.4, 792.8]]
"""

from __future__ import annotations

from grounding import prompts
from grounding.coords import Frame, smart_resize
from grounding.parsing import parse
from grounding.profiles import (
    Profile,
    Reference,
    Thinking,
    find_profile,
    get_profile,
    list_profiles,
    register_profile,
    unregister_profile,
)
from grounding.result import Grounding

__version__ = "0.1.0"

__all__ = [
    "Frame",
    "Grounding",
    "Profile",
    "Reference",
    "Thinking",
    "__version__",
    "find_profile",
    "get_profile",
    "list_profiles",
    "parse",
    "prompts",
    "register_profile",
    "smart_resize",
    "unregister_profile",
]
