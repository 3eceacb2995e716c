"""How a client asks for scored answers, and how it turns the replies into one scored result.

The clients call :func:`request_extras` for the body fields of each request to send (one for
``none`` and ``logprobs``, K for ``consistency``) and :func:`combine` on the replies. Every
sample's body differs (its ``seed``), so each is cached under its own key: a rerun with another
fusion setting sends nothing.

>>> options = ConfidenceOptions("consistency", samples=3)
>>> [extra["seed"] for extra in request_extras(options, "openai")]
[0, 1, 2]
>>> options.requests_per_question
3
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from grounding.confidence.consistency import fuse_samples
from grounding.confidence.logprobs import score_shapes
from grounding.errors import ConfigurationError, GroundingError
from grounding.result import Grounding

__all__ = [
    "METHODS",
    "ConfidenceOptions",
    "LogprobsUnavailableError",
    "combine",
    "logprob_tokens",
    "request_extras",
]

METHODS = ("none", "logprobs", "consistency")

# Z.AI and BigModel: their chat API has no logprobs parameter and their replies no logprobs
# field (zai-sdk / zhipuai `chat/completions.py` and `types/chat/chat_completion.py`).
_NO_LOGPROBS = frozenset({"zai", "bigmodel"})
# the same APIs sample only with do_sample true, at a temperature in the open range (0, 1)
_DO_SAMPLE = frozenset({"zai", "bigmodel"})


class LogprobsUnavailableError(GroundingError):
    """The server answered without token log-probabilities although they were asked for."""


@dataclass(frozen=True)
class ConfidenceOptions:
    """``method``: none, logprobs or consistency; for consistency, ``samples`` answers drawn at
    ``temperature`` and fused at box IoU ``iou``."""

    method: str = "none"  # one of METHODS
    samples: int = 5
    iou: float = 0.5
    temperature: float = 0.7

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigurationError(
                f"unknown confidence method {self.method!r}: use one of {', '.join(METHODS)}"
            )
        if self.method == "consistency" and self.samples < 2:
            raise ConfigurationError("consistency needs at least 2 samples (--samples)")
        if not 0 < self.iou <= 1:
            raise ConfigurationError(f"the fusion IoU must be in (0, 1], got {self.iou}")
        if not 0 < self.temperature < 2:
            raise ConfigurationError(
                f"the sampling temperature must be in (0, 2), got {self.temperature}"
            )

    def describe(self) -> str:
        """One line for run records: what decides the scores."""
        if self.method == "consistency":
            return (
                f"consistency: {self.samples} samples at temperature {self.temperature}, "
                f"fused at IoU {self.iou}"
            )
        return self.method

    @property
    def requests_per_question(self) -> int:
        """What one question costs in requests (and so in tokens)."""
        return self.samples if self.method == "consistency" else 1


def request_extras(options: ConfidenceOptions, provider: str) -> list[dict[str, Any]]:
    """The body fields of each request to send, one dict per request."""
    if options.method == "logprobs":
        if provider in _NO_LOGPROBS:
            raise ConfigurationError(
                f"the {provider} API returns no token log-probabilities: use "
                "--confidence consistency, or a server that does (vLLM, SGLang)"
            )
        return [{"logprobs": True, "stream": False}]
    if options.method == "consistency":
        temperature = options.temperature
        extra: dict[str, Any] = {"temperature": temperature}
        if provider in _DO_SAMPLE:
            extra = {"do_sample": True, "temperature": min(max(temperature, 0.01), 0.99)}
        return [{**extra, "seed": i} for i in range(options.samples)]
    return [{}]


def logprob_tokens(raw: str) -> list[tuple[str, float]] | None:
    """(token, logprob) pairs of the first choice of an OpenAI-style reply body, if any."""
    try:
        body = json.loads(raw)
        content = body["choices"][0]["logprobs"]["content"]
        pairs = [(str(t["token"]), float(t["logprob"])) for t in content]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return [(t, lp if math.isfinite(lp) else -math.inf) for t, lp in pairs]


def combine(
    responses: Sequence[Any],
    ground: Callable[[Any], Grounding],
    options: ConfidenceOptions,
) -> Grounding:
    """One scored result from the replies to :func:`request_extras`' requests.

    ``ground`` parses a reply exactly as the client does. For consistency the result's
    response is the first reply with the usage of all of them, cached only if all were.
    """
    if options.method == "logprobs":
        response = responses[0]
        result = ground(response)
        tokens = logprob_tokens(response.raw)
        if tokens is None:
            raise LogprobsUnavailableError(
                "the server returned no token log-probabilities (choices[0].logprobs.content): "
                "use --confidence consistency"
            )

        def reparse(text: str) -> Grounding:
            return ground(dataclasses.replace(response, content=text, reasoning=""))

        return score_shapes(result, tokens, reparse)
    if options.method == "consistency":
        fused = fuse_samples([ground(r) for r in responses], iou=options.iou)
        first = responses[0]
        usage = dataclasses.replace(
            first.usage,
            **{
                f.name: sum(getattr(r.usage, f.name) for r in responses)
                for f in dataclasses.fields(first.usage)
            },
        )
        fused.response = dataclasses.replace(
            first,
            usage=usage,
            cached=all(r.cached for r in responses),
            latency=max(r.latency for r in responses),
        )
        return fused
    return ground(responses[0])
