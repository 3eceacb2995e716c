"""grounding: turn vision-language model answers into exact pixel boxes, points and polygons.

>>> import grounding
>>> g = grounding.parse("[[94,598,177,991]]", model="glm-4.5v", image_size=(1200, 800))
>>> g.boxes.round(1).tolist()
[[112.8, 478.4, 212.4, 792.8]]
"""

from __future__ import annotations

from grounding import confidence, datasets, evals, labeling, prompts, tiling
from grounding.annotate import annotate
from grounding.api import adetect, alocate, detect, locate
from grounding.cache import ResponseCache
from grounding.client import AsyncClient, Client, Response, RetryPolicy, Usage
from grounding.confidence import ConfidenceOptions, LogprobsUnavailableError
from grounding.coords import Frame, smart_resize
from grounding.errors import (
    AccountError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentBlockedError,
    GroundingError,
    ImageError,
    QuotaExceededError,
    RateLimitError,
    ReplyTooLargeError,
    ServerError,
)
from grounding.export import ExportError, ExportSummary, export_job
from grounding.images import PreparedImage, load_image, prepare_image
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
from grounding.tiling import MergeOptions, Tiling

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AccountError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConfidenceOptions",
    "ConfigurationError",
    "ContentBlockedError",
    "ExportError",
    "ExportSummary",
    "Frame",
    "Grounding",
    "GroundingError",
    "ImageError",
    "LogprobsUnavailableError",
    "MergeOptions",
    "PreparedImage",
    "Profile",
    "QuotaExceededError",
    "RateLimitError",
    "Reference",
    "ReplyTooLargeError",
    "Response",
    "ResponseCache",
    "RetryPolicy",
    "ServerError",
    "Thinking",
    "Tiling",
    "Usage",
    "__version__",
    "adetect",
    "alocate",
    "annotate",
    "confidence",
    "datasets",
    "detect",
    "evals",
    "export_job",
    "find_profile",
    "get_profile",
    "labeling",
    "list_profiles",
    "load_image",
    "locate",
    "parse",
    "prepare_image",
    "prompts",
    "register_profile",
    "smart_resize",
    "tiling",
    "unregister_profile",
]
