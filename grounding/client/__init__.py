"""Clients for Z.AI, BigModel and any OpenAI-compatible server (vLLM, SGLang, LM Studio, ...).

``Client`` and ``AsyncClient`` are twins over httpx with an explicit lifecycle (use them as
context managers). Everything but the I/O lives in private modules shared by both: the
provider table (``_providers``), settings (``_settings``), the retry policy and deadline
(``_retry``), the wire format (``_wire``: request bodies, reply and SSE reading, error
classification) and the retry plan (``_base``). The reply types are in :mod:`grounding._reply`.

>>> with Client("openai", base_url="http://127.0.0.1:8000/v1") as client:  # doctest: +SKIP
...     result = client.locate("photo.jpg", "the red car", model="glm-4.5v")
...     result.boxes, result.response.usage
"""

from __future__ import annotations

from grounding._reply import Response, Usage
from grounding.client._async import AsyncClient
from grounding.client._base import ground_response, user_agent
from grounding.client._providers import DEFAULT_MODEL, PROVIDERS, Provider, provider_for_url
from grounding.client._retry import Deadline, RetryPolicy
from grounding.client._settings import Settings, resolve_settings
from grounding.client._sync import Client
from grounding.client._wire import DEFAULT_MAX_REPLY_BYTES, ReplyReader, request_body

__all__ = [
    "DEFAULT_MAX_REPLY_BYTES",
    "DEFAULT_MODEL",
    "PROVIDERS",
    "AsyncClient",
    "Client",
    "Deadline",
    "Provider",
    "ReplyReader",
    "Response",
    "RetryPolicy",
    "Settings",
    "Usage",
    "ground_response",
    "provider_for_url",
    "request_body",
    "resolve_settings",
    "user_agent",
]
