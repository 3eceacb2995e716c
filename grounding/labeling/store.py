"""The job store: one SQLite file (WAL) per output folder, one row per image.

Every finished image is committed on its own, so a ``kill -9`` at any moment loses at most
the requests in flight; rerunning skips done images. Rows are read back in pages, never all
at once, so memory stays flat whatever the number of images.

One row per file: a ``source`` (absolute, link-resolved path, or URL) is registered once, and
a ``key`` already taken by another file gets a numbered variant (``x~2.jpg``), so no image is
lost to a name collision. Keys are checked when written and when read: a store (a merged
shard's, say) holding a key that would leave the output folder is refused. Every SQLite or
disk failure surfaces as one :class:`StoreError` that names the file and the problem.

>>> import tempfile, pathlib
>>> store = JobStore(pathlib.Path(tempfile.mkdtemp()) / "job.sqlite")
>>> store.add([Item("a.jpg", "/data/a.jpg", "/data")])
1
>>> store.counts()
{'pending': 1}
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grounding.errors import GroundingError
from grounding.labeling.inputs import Item, key_problem

__all__ = ["STATUSES", "JobStore", "Row", "StoreError"]

STATUSES = ("pending", "done", "failed", "blocked")
FORMAT = 2  # meta "store_format": 2 = absolute sources, unique per row
_COLUMNS = frozenset({"key", "source", "root", "status", "response", "result", "usage", "error",
                      "width", "height", "attempts", "updated"})  # fmt: skip
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
CREATE INDEX IF NOT EXISTS images_source ON images (source);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(GroundingError):
    """The job store cannot be read or written: corrupt, foreign, read-only, disk full, or
    holding an unsafe key. The message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"job store {path}: {problem}")
        self.path = Path(path)
        self.problem = problem


def _problem(exc: sqlite3.Error | OSError) -> str:
    """SQLite's words, told as what the user can do about them."""
    if isinstance(exc, OSError):
        return f"cannot create its folder: {exc.strerror or exc}"
    text = str(exc)
    lowered = text.lower()
    if "disk is full" in lowered or "disk i/o error" in lowered:
        return f"cannot write ({text}); is the disk full?"
    if "readonly" in lowered or "read-only" in lowered:
        return f"cannot write ({text}): the file or its folder is read-only"
    if "unable to open" in lowered:
        return f"cannot open ({text}): does its folder exist, and may you write there?"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return (
            f"corrupt or not a SQLite database ({text}); restore it from a copy, or move it "
            "away to start the job over"
        )
    return text


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


def _to_db(path: str) -> str | bytes:
    """A path for SQLite: text, or its raw bytes when the name is not UTF-8."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _from_db(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _numbered(key: str, n: int) -> str:
    """``a/b.jpg`` -> ``a/b~2.jpg``: the name a second file with the same key gets."""
    folder, name = key.rsplit("/", 1) if "/" in key else ("", key)
    stem, ext = os.path.splitext(name)
    return f"{folder}/{stem}~{n}{ext}" if folder else f"{stem}~{n}{ext}"


def _same_file(stored: str, source: str) -> bool:
    """Whether a row's stored path, under the same key, is the image ``source`` names: a row
    written by an older version (a path relative to where it ran), or one whose file is gone
    (the folder was moved: the job resumes from the new place instead of paying again)."""
    if stored.startswith(("http://", "https://")):
        return False
    try:
        return os.path.realpath(stored) == source or not os.path.lexists(stored)
    except (OSError, ValueError):
        return False


class JobStore:
    """The rows of one labeling job; safe for one writer process with many readers.

    ``readonly`` opens an existing store without writing anything (``--dry-run``);
    ``check`` runs SQLite's quick check first, so a damaged file is refused before any work.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, check: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._db: sqlite3.Connection | None = None
        with self._guard():
            if readonly:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None,
                                           check_same_thread=False)  # fmt: skip
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(
                    self.path, timeout=60.0, isolation_level=None, check_same_thread=False
                )
            if check:
                verdict = self._db.execute("PRAGMA quick_check").fetchone()
                if verdict is None or verdict[0] != "ok":
                    raise sqlite3.DatabaseError(f"database disk image is malformed: {verdict}")
            self._adopt()

    def _adopt(self) -> None:
        """Create the schema in a new file; refuse a file that is some other program's."""
        db = self.db
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables:
            if not {"images", "meta"} <= tables:
                raise StoreError(
                    self.path,
                    f"not a grounding job store (its tables: {', '.join(sorted(tables))}); "
                    "use another --out",
                )
            columns = {r[1] for r in db.execute("PRAGMA table_info(images)")}
            if not columns >= _COLUMNS:
                missing = ", ".join(sorted(_COLUMNS - columns))
                raise StoreError(self.path, f"not a grounding job store (no columns {missing})")
        if self.readonly:
            return
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        if not tables:
            self.set_meta("store_format", FORMAT)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(self.path, "closed")
        return self._db

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(self.path, _problem(exc)) from None

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- configuration -------------------------------------------------------------------

    def get_meta(self, name: str) -> Any:
        with self._guard():
            row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        try:
            return None if row is None else json.loads(row[0])
        except ValueError:
            raise StoreError(self.path, f"setting {name!r} is not readable JSON") from None

    def set_meta(self, name: str, value: Any) -> None:
        with self._guard():
            self.db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, json.dumps(value))
            )

    # --- rows ----------------------------------------------------------------------------

    def add(self, items: Iterable[Item], batch: int = 1000) -> int:
        """Register images as pending; returns how many were new. A file already in the job
        (the same ``source``) is left as it is; a key taken by another file is numbered
        (``x~2.jpg``). Inserts in batches of ``batch`` rows, one transaction each."""
        added = 0
        chunk: list[Item] = []
        for item in items:
            problem = key_problem(item.key)
            if problem:
                raise ValueError(f"image key {item.key!r} {problem}")
            chunk.append(item)
            if len(chunk) >= batch:
                added += self._insert(chunk)
                chunk = []
        if chunk:
            added += self._insert(chunk)
        return added

    def _insert(self, items: list[Item]) -> int:
        added = 0
        with self._guard():
            db = self.db
            db.execute("BEGIN")
            try:
                for item in items:
                    added += self._insert_one(db, item)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return added

    def _insert_one(self, db: sqlite3.Connection, item: Item) -> int:
        source = _to_db(item.source)
        if db.execute("SELECT 1 FROM images WHERE source = ?", (source,)).fetchone():
            return 0
        key, n = item.key, 1
        while True:
            taken = db.execute("SELECT source FROM images WHERE key = ?", (key,)).fetchone()
            if taken is None:
                db.execute(
                    "INSERT INTO images (key, source, root) VALUES (?, ?, ?)",
                    (key, source, _to_db(item.root)),
                )
                return 1
            if _same_file(_from_db(taken[0]), item.source):
                db.execute("UPDATE images SET source = ? WHERE key = ?", (source, key))
                return 0
            n += 1
            key = _numbered(item.key, n)

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
        with self._guard():
            self.db.execute(
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
        """Rows with the given statuses (all when none given), in key order, page by page.
        Raises :class:`StoreError` on a key that would leave an output folder."""
        wanted = statuses or STATUSES
        marks = ",".join("?" * len(wanted))
        last = ""
        while True:
            with self._guard():
                found = self.db.execute(
                    "SELECT key, source, root, status, response, result, usage, error, width, "
                    f"height, attempts FROM images WHERE status IN ({marks}) AND key > ? "
                    "ORDER BY key LIMIT ?",
                    (*wanted, last, page),
                ).fetchall()
            for r in found:
                yield self._row(r)
            if len(found) < page:
                return
            last = found[-1][0]

    def _row(self, r: Any) -> Row:
        key = r[0]
        problem = key_problem(key) if isinstance(key, str) else "is not text"
        if problem:
            raise StoreError(
                self.path, f"refusing the image key {key!r}: it {problem} (a crafted store?)"
            )
        try:
            result, usage = _json(r[5]), _json(r[6])
        except ValueError:
            raise StoreError(self.path, f"the row of {key!r} is not readable JSON") from None
        return Row(key, _from_db(r[1]), _from_db(r[2]), r[3], r[4], result, usage, r[7], r[8],
                   r[9], r[10])  # fmt: skip

    def counts(self) -> dict[str, int]:
        with self._guard():
            return dict(
                self.db.execute("SELECT status, COUNT(*) FROM images GROUP BY status").fetchall()
            )

    def usage_totals(self) -> tuple[int, int]:
        """Prompt and completion tokens of every finished request."""
        with self._guard():
            row = self.db.execute(
                "SELECT COALESCE(SUM(json_extract(usage, '$.prompt_tokens')), 0), "
                "COALESCE(SUM(json_extract(usage, '$.completion_tokens')), 0) FROM images "
                "WHERE usage IS NOT NULL"
            ).fetchone()
        return int(row[0]), int(row[1])


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
