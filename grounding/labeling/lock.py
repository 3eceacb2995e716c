"""One writer per job: an advisory lock on ``OUT/job.lock``, held while ``label`` or
``export`` works on the folder.

The lock is the operating system's (``flock``), not the file's existence: it goes away with
the process however that ends, so a lock left by ``kill -9`` never blocks the next run. The
file holds who took it (pid, host, command, time), only to name the other process when a
second one is refused.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with JobLock(folder, "label"):
...     JobLock(folder, "export").acquire()
Traceback (most recent call last):
...
grounding.labeling.lock.JobLockedError: ... is in use by `grounding label` (pid ...
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from grounding.errors import GroundingError

__all__ = ["LOCK_FILE", "JobLock", "JobLockedError", "LockError"]

LOCK_FILE = "job.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class LockError(GroundingError):
    """The lock file cannot be made (the folder is missing, read-only, not a folder)."""


class JobLockedError(LockError):
    """Another process works on the job; the message names it."""


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        info: Any = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("started", 0))))
    return (
        f"`grounding {info.get('command', '?')}` (pid {info['pid']} on {info.get('host', '?')}, "
        f"since {since})"
    )


class JobLock:
    """Hold ``folder/job.lock`` exclusively, or fail at once with :class:`JobLockedError`."""

    def __init__(self, folder: str | Path, command: str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> JobLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LockError(
                f"cannot write in {self.folder}: {exc.strerror or exc}; choose a writable --out"
            ) from None
        if not _try_lock(fd):
            os.close(fd)
            raise JobLockedError(
                f"{self.folder} is in use by {_holder(self.path)}: one writer per job; wait for "
                "it to finish or stop it"
            )
        me = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
              "started": time.time()}  # fmt: skip
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise LockError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock back (closing the file is what releases it)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JobLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()
