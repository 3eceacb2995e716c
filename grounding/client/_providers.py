"""The provider table: where each API family lives, its key variable, its request dialect.

>>> provider_for_url("https://api.z.ai/api/paas/v4").name
'zai'
>>> provider_for_url("http://localhost:8000/v1") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["DEFAULT_MODEL", "PROVIDERS", "Provider", "provider_for_url"]


@dataclass(frozen=True)
class Provider:
    """An API family: where it lives, where its key comes from, how it wants requests.

    ``thinking_style``: ``"zai"`` sends ``{"thinking": {"type": ...}}``, ``"chat_template"``
    sends vLLM/SGLang's ``chat_template_kwargs``. ``zai_dialect``: the official SDK's request
    form (bare base64 images, ``do_sample``, temperature in (0, 1), no ``stream_options``).
    ``hosts``: host names that identify the provider in a base URL.
    """

    name: str
    base_url: str | None
    key_env: str
    key_required: bool
    thinking_style: str
    zai_dialect: bool = False
    hosts: tuple[str, ...] = ()


PROVIDERS: dict[str, Provider] = {
    "zai": Provider(
        "zai", "https://api.z.ai/api/paas/v4", "ZAI_API_KEY", True, "zai", True, ("z.ai",)
    ),
    "bigmodel": Provider(
        "bigmodel",
        "https://open.bigmodel.cn/api/paas/v4",
        "ZHIPUAI_API_KEY",
        True,
        "zai",
        True,
        ("bigmodel.cn",),
    ),
    "openai": Provider("openai", None, "OPENAI_API_KEY", False, "chat_template"),
}
DEFAULT_MODEL = "glm-4.5v"


def provider_for_url(url: str) -> Provider | None:
    """The provider a base URL's host names (``api.z.ai`` -> zai, ``*.bigmodel.cn`` ->
    bigmodel), or None for any other server."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    for provider in PROVIDERS.values():
        if any(host == h or host.endswith("." + h) for h in provider.hosts):
            return provider
    return None
