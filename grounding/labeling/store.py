"""The job store: one SQLite file (WAL) per output folder, one row per image.

Every finished image is committed on its own, so a ``kill -9`` at any moment loses at most
the requests in flight; rerunning skips done images. Rows are read back in pages, never all
at once, so memory stays flat whatever the number of images.

>>> import tempfile, pathlib
>>> store = JobStore(pathlib.Path(tempfile.mkdtemp()) / "job.sqlite")
>>> store.add([Item("a.jpg", "/data/a.jpg", "/data")])
1
>>> store.counts()
{'pending': 1}
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grounding.labeling.inputs import Item

__all__ = ["STATUSES", "JobStore", "Row"]

STATUSES = ("pending", "done", "failed", "blocked")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    root TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    response TEXT,
    result TEXT,
    usage TEXT,
    error TEXT,
    width INTEGER,
    height INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL
);
CREATE INDEX IF NOT EXISTS images_status ON images (status);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Row:
    """One image as stored."""

    key: str
    source: str
    root: str
    status: str
    response: str | None
    result: dict[str, Any] | None
    usage: dict[str, Any] | None
    error: str | None
    width: int | None
    height: int | None
    attempts: int


class JobStore:
    """The rows of one labeling job; safe for one writer process with many readers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=60.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- configuration -------------------------------------------------------------------

    def get_meta(self, name: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, name: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, json.dumps(value))
        )

    # --- rows ----------------------------------------------------------------------------

    def add(self, items: Iterable[Item], batch: int = 1000) -> int:
        """Register images as pending (known ones are left as they are); returns how many
        were new. Inserts in batches of ``batch`` rows, one transaction each."""
        added = 0
        chunk: list[tuple[str, str, str]] = []
        for item in items:
            chunk.append((item.key, item.source, item.root))
            if len(chunk) >= batch:
                added += self._insert(chunk)
                chunk = []
        if chunk:
            added += self._insert(chunk)
        return added

    def _insert(self, rows: list[tuple[str, str, str]]) -> int:
        with self._db:
            self._db.execute("BEGIN")
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO images (key, source, root) VALUES (?, ?, ?)", rows
            )
            return self._db.total_changes - before

    def finish(
        self,
        key: str,
        *,
        status: str,
        response: str | None = None,
        result: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
        error: str | None = None,
        size: tuple[int, int] | None = None,
    ) -> None:
        """Record the outcome of one image (committed at once)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self._db.execute(
            "UPDATE images SET status = ?, response = ?, result = ?, usage = ?, error = ?, "
            "width = COALESCE(?, width), height = COALESCE(?, height), "
            "attempts = attempts + 1, updated = ? WHERE key = ?",
            (
                status,
                response,
                None if result is None else json.dumps(result),
                None if usage is None else json.dumps(usage),
                error,
                size[0] if size else None,
                size[1] if size else None,
                time.time(),
                key,
            ),
        )

    def rows(self, *statuses: str, page: int = 500) -> Iterator[Row]:
        """Rows with the given statuses (all when none given), in key order, page by page."""
        wanted = statuses or STATUSES
        marks = ",".join("?" * len(wanted))
        last = ""
        while True:
            found = self._db.execute(
                "SELECT key, source, root, status, response, result, usage, error, width, height, "
                f"attempts FROM images WHERE status IN ({marks}) AND key > ? ORDER BY key LIMIT ?",
                (*wanted, last, page),
            ).fetchall()
            for r in found:
                yield Row(
                    r[0], r[1], r[2], r[3], r[4], _json(r[5]), _json(r[6]), r[7], r[8], r[9], r[10]
                )
            if len(found) < page:
                return
            last = found[-1][0]

    def counts(self) -> dict[str, int]:
        return dict(
            self._db.execute("SELECT status, COUNT(*) FROM images GROUP BY status").fetchall()
        )

    def usage_totals(self) -> tuple[int, int]:
        """Prompt and completion tokens of every finished request."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(json_extract(usage, '$.prompt_tokens')), 0), "
            "COALESCE(SUM(json_extract(usage, '$.completion_tokens')), 0) FROM images "
            "WHERE usage IS NOT NULL"
        ).fetchone()
        return int(row[0]), int(row[1])


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
