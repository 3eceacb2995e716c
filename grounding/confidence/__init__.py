"""A confidence for every shape: from token log-probabilities, or from self-consistency.

A vision-language model writes boxes without scores. Two ways give them one:

- ``logprobs``: where the server returns token log-probabilities (vLLM, SGLang, OpenAI), a
  shape's score is how sure the model was of the tokens that wrote it
  (:func:`score_shapes`).
- ``consistency``: any provider; K sampled answers to the same question are fused, and a
  shape's score is the share of answers that agree on it (:func:`fuse_samples`).

>>> from grounding.result import Grounding
>>> a = Grounding(boxes=[[0, 0, 10, 10]], labels=["dent"])
>>> fuse_samples([a, a, Grounding()]).confidence.round(2).tolist()
[0.67]
"""

from __future__ import annotations

from grounding.confidence.consistency import fuse_samples
from grounding.confidence.logprobs import TokenLogprob, score_shapes
from grounding.confidence.options import (
    METHODS,
    ConfidenceOptions,
    LogprobsUnavailableError,
    combine,
    logprob_tokens,
    request_extras,
)

__all__ = [
    "METHODS",
    "ConfidenceOptions",
    "LogprobsUnavailableError",
    "TokenLogprob",
    "combine",
    "fuse_samples",
    "logprob_tokens",
    "request_extras",
    "score_shapes",
]
