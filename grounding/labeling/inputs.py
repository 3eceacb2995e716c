"""Finding the images of a job: folders (recursive), globs and list files, streamed.

Each input yields :class:`Item` records in a stable order without holding the whole list:
a folder of a million photos costs a directory walk, not a million objects at once.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()); (root / "a").mkdir()
>>> _ = (root / "a" / "X.JPG").write_bytes(b""); _ = (root / "notes.txt").write_text("")
>>> [item.key for item in find_images([str(root)])]
['a/X.JPG']
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXTENSIONS", "Item", "find_images", "in_shard", "parse_shard"]

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class Item:
    """One image of a job: ``key`` (the path relative to its input root, or the URL) names it
    in the store and in every export; ``source`` is where to read it."""

    key: str
    source: str
    root: str


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in EXTENSIONS


def _walk(folder: Path) -> Iterator[Item]:
    root = str(folder)
    for directory, subdirs, files in os.walk(folder):
        subdirs.sort()
        for name in sorted(files):
            if _is_image(name):
                path = os.path.join(directory, name)
                yield Item(os.path.relpath(path, root).replace(os.sep, "/"), path, root)


def _glob_root(pattern: str) -> str:
    parts = Path(pattern).parts
    fixed = [
        p for p in parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]
    ]
    return str(Path(*fixed)) if fixed else "."


def _list_file(path: Path) -> Iterator[Item]:
    base = path.parent
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            if entry.startswith(("http://", "https://")):
                yield Item(entry, entry, "")
                continue
            file = Path(entry) if Path(entry).is_absolute() else base / entry
            try:
                key = file.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                key = file.resolve().as_posix()
            yield Item(key, str(file), str(base))


def find_images(inputs: Iterable[str]) -> Iterator[Item]:
    """Images from each input in turn: a folder (recursive), a glob, a text file of paths or
    URLs (one per line, ``#`` comments), or one image file. Extensions match in any case:
    jpg, jpeg, png, webp, bmp, tif, tiff. Inputs that name nothing raise ``FileNotFoundError``."""
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            yield from _walk(path)
        elif glob.has_magic(raw):
            root = _glob_root(raw)
            matches = sorted(glob.iglob(raw, recursive=True))
            for match in matches:
                if os.path.isfile(match) and _is_image(match):
                    yield Item(os.path.relpath(match, root).replace(os.sep, "/"), match, root)
        elif path.is_file() and _is_image(path.name):
            yield Item(path.name, str(path), str(path.parent))
        elif path.is_file():
            yield from _list_file(path)
        else:
            raise FileNotFoundError(f"{raw}: no such folder, file or matching glob")


def parse_shard(value: str) -> tuple[int, int]:
    """``"2/8"`` -> ``(2, 8)``; shards count from 1."""
    try:
        k, n = (int(v) for v in value.split("/"))
    except ValueError:
        raise ValueError(f"shard must look like k/N (e.g. 2/8), got {value!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"shard k/N needs 1 <= k <= N, got {value!r}")
    return k, n


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Stable across machines and Python runs: a hash of the relative path, not ``hash()``."""
    if shard is None:
        return True
    k, n = shard
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n == k - 1
