"""The reply types: one model answer (:class:`Response`) and its token counts (:class:`Usage`).

They live apart from the client so that :mod:`grounding.result` can refer to them without
importing the client (which imports the result). Nothing here does I/O.

>>> Usage.from_api({"prompt_tokens": 1200, "completion_tokens": 30,
...                 "prompt_tokens_details": {"cached_tokens": 1000}})
Usage(prompt_tokens=1200, completion_tokens=30, total_tokens=1230, cached_tokens=1000)
>>> Usage.from_api({"prompt_tokens": float("nan"), "completion_tokens": 1e400}).prompt_tokens
0
>>> reasoning = "drafts [[1,2,3,4]] then <|begin_of_box|>[[5,6,7,8]]<|end_of_box|>"
>>> Response("", reasoning=reasoning).answer()[0]
'<|begin_of_box|>[[5,6,7,8]]<|end_of_box|>'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["COMPLETE_FINISH_REASONS", "TRUNCATED_FINISH_REASONS", "Response", "Usage"]

# finish reasons that mean "the model finished its answer" (OpenAI, vLLM, SGLang, Z.AI, llama.cpp)
COMPLETE_FINISH_REASONS = frozenset(
    {"stop", "eos", "end_turn", "stop_sequence", "tool_calls", "function_call"}
)
# the answer hit the token limit: whatever the content holds is kept, with a warning
TRUNCATED_FINISH_REASONS = frozenset({"length", "max_tokens"})

_BEGIN, _END = "<|begin_of_box|>", "<|end_of_box|>"


def _count(value: Any) -> int:
    """A token count; anything but a finite, non-negative number reads as missing (0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return int(value) if value >= 0 else 0


@dataclass(frozen=True)
class Usage:
    """Token counts as the API reported them (0 where it did not, or sent nonsense).

    ``cached_tokens`` is the part of ``prompt_tokens`` the provider served from its own
    prompt cache (``usage.prompt_tokens_details.cached_tokens``, Z.AI and OpenAI); it is
    billed at the cached-input price where one is published.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    @classmethod
    def from_api(cls, data: Any) -> Usage:
        if not isinstance(data, Mapping):
            return cls()
        prompt = _count(data.get("prompt_tokens"))
        completion = _count(data.get("completion_tokens"))
        details = data.get("prompt_tokens_details")
        cached = _count(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
        cached = cached or _count(data.get("cached_tokens"))  # our own cache rows
        total = _count(data.get("total_tokens")) or prompt + completion
        return cls(prompt, completion, total, min(cached, prompt) if prompt else cached)


def _final_span(reasoning: str) -> str:
    """The final answer inside a reasoning text, or "" when there is none.

    Text after the last ``</think>``; else the last ``<|begin_of_box|>…`` span; else an
    ``<answer>…</answer>``. Anything else in the reasoning is a draft and never counts.
    """
    close = reasoning.rfind("</think>")
    if close >= 0 and reasoning[close + len("</think>") :].strip():
        return reasoning[close + len("</think>") :]
    begin = reasoning.rfind(_BEGIN)
    if begin >= 0:
        end = reasoning.find(_END, begin)
        return reasoning[begin : end + len(_END)] if end >= 0 else ""
    start = reasoning.rfind("<answer>")
    if start >= 0:
        end = reasoning.find("</answer>", start)
        return reasoning[start : end + len("</answer>")] if end >= 0 else ""
    return ""


@dataclass
class Response:
    """One model answer: text, reasoning, usage, latency and the raw reply.

    ``attempts`` is how many requests it took (0 when it came from the cache), ``cached``
    whether it came from the response cache, ``request_id`` the provider's id, if any.
    """

    content: str
    reasoning: str = ""
    usage: Usage = field(default_factory=Usage)
    latency: float = 0.0
    finish_reason: str | None = None
    model: str = ""
    raw: str = ""
    cached: bool = False
    attempts: int = 1
    request_id: str = ""

    @property
    def truncated(self) -> bool:
        """True when the answer stopped at the token limit (``finish_reason: length``)."""
        return self.finish_reason in TRUNCATED_FINISH_REASONS

    def answer(self) -> tuple[str, list[str]]:
        """The text to parse, and warnings about where it came from.

        The content when there is any. When only reasoning came back, at most the
        reasoning's final answer span (never its drafts), and never when the answer was
        cut off at the token limit (the reasoning then holds drafts only).
        """
        if self.content.strip():
            return self.content, []
        if not self.reasoning.strip():
            return "", []
        if self.truncated:
            return "", [
                "the answer was cut off at max_tokens while the model was still reasoning; "
                "no box is read from the reasoning (raise --max-tokens or turn thinking off)"
            ]
        span = _final_span(self.reasoning)
        if span.strip():
            return span, [
                "the answer was empty; read the final answer span of the reasoning (some "
                "servers put everything there)"
            ]
        return "", [
            "the answer was empty and the reasoning holds no final answer; its drafts are not used"
        ]

    def to_cache(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "usage": asdict(self.usage),
            "finish_reason": self.finish_reason,
            "model": self.model,
            "raw": self.raw,
            "request_id": self.request_id,
        }

    @classmethod
    def from_cache(cls, data: Mapping[str, Any]) -> Response:
        finish = data.get("finish_reason")
        return cls(
            content=str(data.get("content") or ""),
            reasoning=str(data.get("reasoning") or ""),
            usage=Usage.from_api(data.get("usage")),
            finish_reason=finish if isinstance(finish, str) else None,
            model=str(data.get("model") or ""),
            raw=str(data.get("raw") or ""),
            cached=True,
            attempts=0,
            request_id=str(data.get("request_id") or ""),
        )
