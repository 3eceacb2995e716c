"""Connection settings: arguments first, then the environment; credentials kept out of sight.

A base URL may carry credentials (``https://user:pass@host/v1``, ``?api-key=…``). They are
split off here and sent as HTTP basic auth and query parameters, so ``Settings.base_url``,
every message, report and metric only ever shows the clean URL.

>>> s = resolve_settings(base_url="https://me:pw@api.z.ai/api/paas/v4/", api_key="k", env={})
>>> s.provider.name, s.base_url, s.url_auth is not None
('zai', 'https://api.z.ai/api/paas/v4', True)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from grounding.client._providers import DEFAULT_MODEL, PROVIDERS, Provider, provider_for_url
from grounding.errors import ConfigurationError

__all__ = ["Settings", "resolve_settings", "split_credentials"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings. The key and URL credentials are kept out of ``repr``."""

    provider: Provider
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    url_auth: tuple[str, str] | None = field(default=None, repr=False)
    url_params: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def endpoint(self) -> str:
        """The provider and normalized base URL: what the cache key says answered.

        Scheme and host lower-cased, default port and trailing slash dropped; credentials
        are not part of it, and query parameters (which may hold a token) only as a hash.
        """
        parts = urlsplit(self.base_url)
        host = (parts.hostname or "").lower()
        port = (
            f":{parts.port}"
            if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme.lower())
            else ""
        )
        query = "&".join(f"{k}={v}" for k, v in sorted(self.url_params))
        hashed = "sha256=" + hashlib.sha256(query.encode()).hexdigest()[:16] if query else ""
        url = urlunsplit((parts.scheme.lower(), host + port, parts.path.rstrip("/"), hashed, ""))
        return f"{self.provider.name} {url}"


def split_credentials(
    url: str,
) -> tuple[str, tuple[str, str] | None, tuple[tuple[str, str], ...]]:
    """(clean URL, basic-auth pair or None, query parameters) of a base URL."""
    parts = urlsplit(url.strip())
    auth = None
    if parts.username is not None or parts.password is not None:
        auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = host + (f":{parts.port}" if parts.port else "")
    params = tuple(parse_qsl(parts.query, keep_blank_values=True))
    clean = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return clean, auth, params


def resolve_settings(
    provider: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Arguments first, then ``GROUNDING_PROVIDER`` / ``GROUNDING_BASE_URL`` /
    ``GROUNDING_MODEL`` and the provider's key variable.

    Without a provider: the one the base URL's host names (``api.z.ai`` -> zai,
    ``open.bigmodel.cn`` -> bigmodel), ``openai`` for any other base URL; with no base URL,
    ``bigmodel`` when only ``ZHIPUAI_API_KEY`` is set, else ``zai``. Raises
    :class:`ConfigurationError` naming what to set.
    """
    env = os.environ if env is None else env
    base_url = base_url or env.get("GROUNDING_BASE_URL") or None
    name = (provider or env.get("GROUNDING_PROVIDER") or "").strip().lower()
    if not name:
        if base_url:
            found = provider_for_url(base_url)
            name = found.name if found else "openai"
        elif env.get("ZHIPUAI_API_KEY") and not env.get("ZAI_API_KEY"):
            name = "bigmodel"
        else:
            name = "zai"
    if name not in PROVIDERS:
        raise ConfigurationError(
            f"unknown provider {name!r}: use one of {', '.join(PROVIDERS)} "
            "(provider= in Python, --provider on the command line, or GROUNDING_PROVIDER)"
        )
    spec = PROVIDERS[name]
    url = base_url or spec.base_url
    if not url:
        raise ConfigurationError(
            "the openai provider needs a base URL, e.g. http://localhost:8000/v1 for vLLM or "
            "SGLang: base_url= in Python, --base-url on the command line, or GROUNDING_BASE_URL"
        )
    clean, auth, params = split_credentials(url)
    if not clean.startswith(("http://", "https://")):
        raise ConfigurationError(f"the base URL must start with http:// or https://, got {clean!r}")
    key = api_key or env.get(spec.key_env) or None
    if spec.key_required and not key:
        raise ConfigurationError(
            f"no API key for {name}: set {spec.key_env} (or give api_key= in Python, "
            "--api-key on the command line)"
        )
    chosen = model or env.get("GROUNDING_MODEL") or DEFAULT_MODEL
    return Settings(spec, clean, chosen, key, auth, params)
