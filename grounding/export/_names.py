"""Export file names: flat, unique, safe, and the same in every format.

An image key (its path relative to the input root) becomes one flat file name: the folders are
joined with ``__`` (``line/images/cam1/p.jpg`` -> ``line__images__cam1__p.jpg``), so no format
gets an inner folder named ``images`` or ``labels`` (Ultralytics maps image paths to label
paths by the last ``/images/``), and loaders that list one folder (supervision) see every
image. Stems are unique regardless of case, because YOLO label files and VOC annotations are
named after the stem: ``x.jpg`` and ``x.png`` become ``x.jpg`` and ``x_png.png``. A key with a
``..`` part would resolve outside the export folder and is refused.

>>> names = Names(":memory:")
>>> names.allocate("line/images/cam1/p.jpg")
('line__images__cam1__p.jpg', 'line__images__cam1__p', False)
>>> names.allocate("x.jpg")[0], names.allocate("X.png")[0]
('x.jpg', 'X_png.png')
>>> subset("any/key.jpg", 0.0)
'train'
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from urllib.parse import unquote, urlsplit

from grounding.errors import GroundingError

__all__ = ["ExportError", "Names", "flat_name", "subset"]

_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\]')


class ExportError(GroundingError, ValueError):
    """An export cannot be written as asked; the message names the image or setting at fault.
    Nothing of the previous export is changed."""


def flat_name(key: str) -> str:
    """The flat file name of an image key (URLs: the parts of their path)."""
    path = unquote(urlsplit(key).path) if key.startswith(("http://", "https://")) else key
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts or "\x00" in path:
        shown = f"'{key}'" if key.isprintable() else repr(key)
        raise ExportError(
            f"image key {shown} would resolve outside the export folder: refusing to export "
            "(is the job store from a trusted run?)"
        )
    name = "__".join(_UNSAFE_CHARS.sub("_", p) for p in parts) or "image"
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, ""
    # a stem with a leading "#", "." or blank is a comment, a hidden file or is stripped by
    # the tools that list images (datumaro's ImageSets, Ultralytics' glob)
    if stem[0] in "#." or stem != stem.strip():
        stem = "_" + stem.strip()
    return f"{stem}.{extension}" if extension else stem


def subset(key: str, val: float) -> str:
    """``"val"`` for about a ``val`` fraction of keys, stable across runs and machines."""
    if val <= 0:
        return "train"
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=b"grounding-val").digest()
    return "val" if int.from_bytes(digest, "big") / 2**64 < val else "train"


class Names:
    """Hands out unique flat names; the stems taken are kept in SQLite, not in memory."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS taken (stem TEXT PRIMARY KEY)")
        self.renamed = 0

    def _take(self, stem: str) -> bool:
        try:
            self._db.execute("INSERT INTO taken (stem) VALUES (?)", (stem.casefold(),))
        except sqlite3.IntegrityError:
            return False
        return True

    def allocate(self, key: str) -> tuple[str, str, bool]:
        """(file name, stem, renamed): renamed when the plain flat name was already taken."""
        name = flat_name(key)
        stem, dot, extension = name.rpartition(".")
        if not dot:
            stem, extension = name, ""
        suffix = f".{extension}" if extension else ""
        if self._take(stem):
            return name, stem, False
        self.renamed += 1
        base = f"{stem}_{extension.lower()}" if extension else stem
        candidate, n = base, 1
        while not self._take(candidate):
            n += 1
            candidate = f"{base}_{n}"
        return candidate + suffix, candidate, True

    def close(self) -> None:
        self._db.close()
