"""Finding the images of a job: folders (recursive), globs and list files, streamed.

Each input yields :class:`Item` records in a stable order without holding the whole list: a
folder of a million photos costs a directory walk, not a million objects at once.

Identity: an image's ``key`` is its path relative to the *common folder of all inputs*, so
``cam1/x.jpg`` and ``cam2/x.jpg`` stay two images, and a key never holds ``..``, never starts
with ``/`` and is always valid text (bytes of a non-UTF-8 name are written ``%XX``). Its
``source`` is the absolute, link-resolved path, so the same file reached twice (overlapping
inputs, symbolic links) is one image and ``grounding export`` works from any directory.
Folder links are followed; a link back to a folder being walked (a loop) is skipped.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()); (root / "a").mkdir()
>>> _ = (root / "a" / "X.JPG").write_bytes(b""); _ = (root / "notes.txt").write_text("")
>>> [item.key for item in find_images([str(root)])]
['a/X.JPG']
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EXTENSIONS",
    "Item",
    "file_problem",
    "find_images",
    "in_shard",
    "key_problem",
    "parse_shard",
]

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
URL_PREFIXES = ("http://", "https://")

OnProblem = Callable[[str, str], None]  # (path, reason): a folder or list that cannot be read


@dataclass(frozen=True)
class Item:
    """One image of a job: ``key`` (a safe relative path, or the URL) names it in the store
    and in every export; ``source`` is where to read it (absolute); ``root`` the folder the
    key is relative to."""

    key: str
    source: str
    root: str


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in EXTENSIONS


def _is_url(text: str) -> bool:
    return text.startswith(URL_PREFIXES)


def _escape(c: str) -> str:
    if 0xDC80 <= ord(c) <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode gives it
        return f"%{ord(c) - 0xDC00:02X}"
    return "%5C" if c == "\\" else c


def _text(path: str) -> str:
    """A relative path as a key: valid text, ``/`` only as separator (undecodable bytes of a
    file name, and backslashes, become ``%XX``)."""
    if all(c != "\\" and not 0xDC80 <= ord(c) <= 0xDCFF for c in path):
        return path
    return "".join(_escape(c) for c in path)


def key_problem(key: str) -> str | None:
    """Why ``key`` may not name an image (None: it may). A key is an http(s) URL or a relative
    path whose parts are plain names: no ``..``, ``.``, empty part, leading ``/``, drive or NUL,
    so that joining it to an output folder can never leave that folder.

    >>> key_problem("a/b.jpg"), key_problem("../victim/evil.png")
    (None, "has a '..' that would leave the output folder")
    """
    if _is_url(key):
        return None
    if not key:
        return "is empty"
    if "\x00" in key:
        return "contains NUL"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in key):
        return "is not valid text"
    if key.startswith(("/", "\\")) or (len(key) > 1 and key[1] == ":"):
        return "is absolute"
    for part in key.replace("\\", "/").split("/"):
        if part == "..":
            return "has a '..' that would leave the output folder"
        if part in ("", "."):
            return "has an empty or '.' part"
    return None


def file_problem(path: str) -> str | None:
    """Why the file at ``path`` cannot be read as an image, told before opening it (None: it
    looks readable). Opening a FIFO would wait forever; a link loop is not "no such file"."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT:
            return "broken symbolic link" if os.path.islink(path) else "no such file"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        if exc.errno == errno.ENAMETOOLONG:
            return "file name too long"
        return f"cannot be read: {exc.strerror or exc}"
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "is a folder, not an image"
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a special file"
        )
        return f"not a regular file: {kind}"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def _glob_root(pattern: str) -> str:
    parts = Path(os.path.expanduser(pattern)).parts
    fixed = parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]
    return os.path.abspath(os.path.join(*fixed)) if fixed else os.getcwd()


def _real(path: str) -> str:
    """The absolute link-resolved path; a loop or broken link keeps its own name."""
    try:
        return os.path.realpath(path, strict=True)
    except (OSError, RuntimeError):
        folder, name = os.path.split(os.path.abspath(path))
        return os.path.join(os.path.realpath(folder), name)


def _inside(path: str, folder: str | None) -> bool:
    return folder is not None and (
        path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
    )


class _Finder:
    """The walk, with the output folder left out and unreadable folders reported."""

    def __init__(self, exclude: str | os.PathLike[str] | None, on_problem: OnProblem | None):
        self.exclude = None if exclude is None else os.path.abspath(exclude)
        self.exclude_real = None if exclude is None else _real(os.fspath(exclude))
        self.on_problem = on_problem or (lambda path, reason: None)

    def excluded(self, lexical: str, real: str) -> bool:
        return _inside(lexical, self.exclude) or _inside(real, self.exclude_real)

    def walk(self, folder: str, ancestors: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
        """(absolute path, real path) of every image file under ``folder``, sorted by name."""
        real_folder = _real(folder)
        if real_folder in ancestors or self.excluded(folder, real_folder):
            return  # a link back to a folder being walked, or the output folder
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            self.on_problem(folder, _reason(exc))
            return
        chain = (*ancestors, real_folder)
        subfolders = []
        for entry in entries:
            path = os.path.join(folder, entry.name)
            try:
                is_dir = entry.is_dir()  # follows links; False for a loop or broken link
            except OSError:
                is_dir = False
            if is_dir:
                subfolders.append(path)
            elif _is_image(entry.name):
                link = entry.is_symlink()
                real = _real(path) if link else os.path.join(real_folder, entry.name)
                if not self.excluded(path, real):
                    yield path, real
        for sub in subfolders:
            yield from self.walk(sub, chain)

    def entries(self, raw: str) -> Iterator[tuple[str, str] | str]:
        """What one input names: (absolute path, real path) pairs, or URLs."""
        path = os.path.abspath(os.path.expanduser(raw))
        if os.path.isdir(path):
            yield from self.walk(path)
        elif os.path.lexists(path) and _is_image(path):
            yield path, _real(path)
        elif os.path.isfile(path):
            yield from self.list_file(path)
        elif glob.has_magic(raw):
            for match in glob.iglob(os.path.expanduser(raw), recursive=True):
                lexical = os.path.abspath(match)
                real = _real(lexical)
                usable = _is_image(match) and not os.path.isdir(lexical)
                if usable and not self.excluded(lexical, real):
                    yield lexical, real
        else:
            raise FileNotFoundError(f"{raw}: no such folder, file or matching glob")

    def list_file(self, path: str) -> Iterator[tuple[str, str] | str]:
        base = os.path.dirname(path)
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as lines:
                for line in lines:
                    entry = line.strip()
                    if not entry or entry.startswith("#"):
                        continue
                    if _is_url(entry):
                        yield entry
                        continue
                    lexical = os.path.abspath(os.path.join(base, os.path.expanduser(entry)))
                    real = _real(lexical)
                    if not self.excluded(lexical, real):
                        yield lexical, real
        except OSError as exc:
            self.on_problem(path, _reason(exc))


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return exc.strerror or str(exc)


def find_images(
    inputs: Iterable[str],
    *,
    exclude: str | os.PathLike[str] | None = None,
    on_problem: OnProblem | None = None,
) -> Iterator[Item]:
    """Images from each input in turn: a folder (recursive), a glob, a text file of paths or
    URLs (one per line, ``#`` comments), or one image file. Extensions match in any case:
    jpg, jpeg, png, webp, bmp, tif, tiff. Inputs that name nothing raise ``FileNotFoundError``
    (before anything is yielded).

    ``exclude`` (the job's output folder) is never read as input. ``on_problem(path, reason)``
    hears of every folder or list file that cannot be read (its images are not in the job).
    The same file may be yielded more than once (overlapping inputs, links); the store keeps
    one row per ``source``.
    """
    raws = list(inputs)
    finder = _Finder(exclude, on_problem)
    quiet = _Finder(exclude, None)
    # first pass: the common folder of everything named (a folder or list file counts as its
    # own folder, so one folder input keeps keys relative to that folder)
    folders: list[str] = []
    for raw in raws:
        path = os.path.abspath(os.path.expanduser(raw))
        if os.path.isdir(path):
            folders.append(path)
            continue
        if os.path.isfile(path) and not _is_image(path):
            folders.append(os.path.dirname(path))  # a list file: keys relative to its folder
        elif not os.path.lexists(path) and glob.has_magic(raw):
            folders.append(_glob_root(raw))  # a glob: relative to the folder before the wildcard
        for found in quiet.entries(raw):
            if isinstance(found, tuple):
                folders.append(os.path.dirname(found[0]))
                folders[:] = [os.path.commonpath(folders)]
    root = os.path.commonpath(folders) if folders else os.getcwd()
    for raw in raws:
        for found in finder.entries(raw):
            if isinstance(found, str):
                yield Item(found, found, "")
                continue
            lexical, real = found
            key = _text(os.path.relpath(lexical, root).replace(os.sep, "/"))
            yield Item(key, real, root)


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
