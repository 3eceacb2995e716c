"""Writing an export so that a crash, a full disk or a second export never damages the last one.

Every format is written into a private staging folder inside the output folder
(``.export-<pid>-<token>/``) and moved into place only when all of it is written: the old
folder is renamed aside, the new one renamed in, the old one deleted. A failure before that
deletes the staging folder and leaves the previous export as it was; two exports into one
folder each finish with a complete export in place (the last one wins). Staging folders and
set-aside folders of processes that died are cleaned up (or put back) by the next export.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path

__all__ = ["Staging", "place_image", "replace_file"]

_STAGE = ".export-"
_ASIDE = ".old-"


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there: never clean up
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_of(name: str, marker: str) -> int | None:
    try:
        return int(name.split(marker, 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return None


def recover(out: Path) -> None:
    """Put back an export a dead process had set aside, and delete dead processes' stages."""
    for entry in out.iterdir():
        name = entry.name
        if name.startswith(_STAGE):
            pid = _pid_of(name, _STAGE)
            if pid is not None and not _alive(pid):
                shutil.rmtree(entry, ignore_errors=True)
        elif name.startswith(".") and _ASIDE in name:
            pid = _pid_of(name, _ASIDE)
            if pid is None or _alive(pid):
                continue
            final = out / name[1:].split(_ASIDE, 1)[0]
            if final.exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.rename(entry, final)


def _swap(new: Path, final: Path) -> None:
    """Move ``new`` to ``final``, replacing what is there; safe against a concurrent swap."""
    for _ in range(50):
        aside = None
        if final.exists() or final.is_symlink():
            aside = final.with_name(f".{final.name}{_ASIDE}{os.getpid()}-{secrets.token_hex(4)}")
            try:
                os.rename(final, aside)
            except FileNotFoundError:  # another export moved it away first
                aside = None
        try:
            os.rename(new, final)
            return
        except OSError as exc:  # another export put its own in place in between: again
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
                raise
        finally:
            if aside is not None:
                if aside.is_dir() and not aside.is_symlink():
                    shutil.rmtree(aside, ignore_errors=True)
                else:
                    aside.unlink(missing_ok=True)
    raise OSError(f"could not move {new} to {final}: other exports keep replacing it")


def replace_file(new: Path, final: Path) -> None:
    """Atomically replace one file."""
    os.replace(new, final)


class Staging:
    """A private folder in ``out`` whose entries replace ``out``'s on :meth:`commit`."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        recover(out)
        self.out = out
        self.path = out / f"{_STAGE}{os.getpid()}-{secrets.token_hex(4)}"
        self.path.mkdir()

    def commit(self, *names: str) -> None:
        """Move each named entry of the stage into ``out``, replacing the old one."""
        for name in names:
            source = self.path / name
            if source.is_dir():
                _swap(source, self.out / name)
            else:
                replace_file(source, self.out / name)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def place_image(source: str, target: Path, copy: bool) -> int:
    """Put an image into the stage: a hard link (or a copy); URLs have nothing to place.

    A hard link, not a symbolic one: loaders that refuse images resolving outside their folder
    (supervision's ``from_coco``) accept it, and it costs no space. Across file systems, where
    hard links cannot be made, it falls back to a symbolic link and returns 1 (else 0).
    """
    if source.startswith(("http://", "https://")):
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        shutil.copy2(source, target)
        return 0
    try:
        os.link(source, target)
    except OSError:
        target.symlink_to(Path(source).resolve())
        return 1
    return 0
