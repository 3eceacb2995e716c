"""Response cache: SQLite (WAL), keyed by what was asked and who answered, storing the answer.

The key is a hash of the endpoint (provider and normalized base URL: a fixture server's
answer never comes back from a real one), the image bytes (for an http(s) URL, the bytes
downloaded, not the URL), the messages, the model and the generation parameters; never the
API key, never the parser (so a parser change re-reads cached answers for free). Only
complete answers are stored (the client's job). Safe with concurrent writers: each call uses
its own short transaction.

>>> import tempfile, pathlib
>>> cache = ResponseCache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
>>> key = cache_key([{"role": "user", "content": "hi"}], model="glm-4.5v", params={})
>>> cache.get(key) is None
True
>>> cache.put(key, {"content": "[[1,2,3,4]]"}); cache.get(key)
{'content': '[[1,2,3,4]]'}
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "cache_key", "default_cache_path", "image_urls"]


def default_cache_path() -> Path:
    """``$GROUNDING_CACHE_DIR/responses.sqlite``, else under ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    root = os.environ.get("GROUNDING_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "responses.sqlite"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "grounding" / "responses.sqlite"


def _image_free(value: Any, digests: Mapping[str, str]) -> Any:
    """Messages with every image URL replaced by the SHA-256 of its bytes.

    ``digests`` maps a URL to the digest of its bytes (an http(s) URL's downloaded bytes);
    any other URL is hashed as it stands (a ``data:`` URL holds the bytes themselves).
    """
    if isinstance(value, dict):
        if value.get("type") == "image_url" and isinstance(value.get("image_url"), dict):
            url = str(value["image_url"].get("url", ""))
            digest = digests.get(url) or hashlib.sha256(url.encode()).hexdigest()
            return {"type": "image_url", "sha256": digest}
        return {k: _image_free(v, digests) for k, v in value.items()}
    if isinstance(value, list):
        return [_image_free(v, digests) for v in value]
    return value


def image_urls(messages: Any) -> list[str]:
    """Every image URL in chat messages (``data:`` and http(s) alike)."""
    if isinstance(messages, dict):
        if messages.get("type") == "image_url" and isinstance(messages.get("image_url"), dict):
            return [str(messages["image_url"].get("url", ""))]
        return [url for v in messages.values() for url in image_urls(v)]
    if isinstance(messages, list):
        return [url for v in messages for url in image_urls(v)]
    return []


def cache_key(
    messages: list[dict[str, Any]],
    *,
    model: str,
    params: Mapping[str, Any],
    endpoint: str = "",
    image_digests: Mapping[str, str] | None = None,
) -> str:
    """The cache key of one request: endpoint, messages (images by the hash of their bytes),
    model and parameters."""
    payload = {
        "endpoint": endpoint,
        "messages": _image_free(messages, image_digests or {}),
        "model": model,
        "params": dict(params),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """A SQLite store of raw responses; one file, shareable by processes and threads."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                "key TEXT PRIMARY KEY, model TEXT, response TEXT NOT NULL, created REAL)"
            )

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for ``key``, or None."""
        row = (
            self._connect()
            .execute("SELECT response FROM responses WHERE key = ?", (key,))
            .fetchone()
        )
        return None if row is None else dict(json.loads(row[0]))

    def put(self, key: str, response: Mapping[str, Any], *, model: str = "") -> None:
        """Store (or replace) the response for ``key``."""
        self._connect().execute(
            "INSERT OR REPLACE INTO responses (key, model, response, created) VALUES (?, ?, ?, ?)",
            (key, model, json.dumps(dict(response), ensure_ascii=False), time.time()),
        )

    def info(self) -> dict[str, Any]:
        """Path, number of entries, bytes on disk and entries per model."""
        db = self._connect()
        count = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        models = dict(db.execute("SELECT model, COUNT(*) FROM responses GROUP BY model"))
        size = sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if p.exists()
        )
        return {"path": str(self.path), "entries": count, "bytes": size, "models": models}

    def clear(self, *, model: str | None = None, older_than: float | None = None) -> int:
        """Delete entries; returns how many. ``model`` keeps only that model's answers in
        the selection, ``older_than`` (seconds) only answers stored at least that long ago;
        with neither, every entry goes."""
        where: list[str] = []
        args: list[Any] = []
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if older_than is not None:
            where.append("created <= ?")
            args.append(time.time() - older_than)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        db = self._connect()
        count = int(db.execute(f"SELECT COUNT(*) FROM responses{clause}", args).fetchone()[0])
        db.execute(f"DELETE FROM responses{clause}", args)
        if count:
            db.execute("VACUUM")
        return count

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
