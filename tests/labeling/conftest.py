from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REPO
from tests.server import Reply, chat

DETECTIONS = ('[{"label": "scratch-1", "bbox_2d": [100,100,400,400]}, {"label": "dents", "bbox_2d": [500,500,700,800]},'
              ' {"label": "rust", "bbox_2d": [10,10,60,60]}]')  # fmt: skip


def make_photos(root: Path, n: int = 200) -> list[str]:
    """``n`` distinct small photos in nested folders (mixed extensions and case), plus a
    corrupt JPEG, an empty PNG, a text file named .JPG and a non-image file."""
    keys = []
    for i in range(n):
        folder = root / f"line{i % 4}" / f"day{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part{i:03d}." + ("JPG" if i % 3 == 0 else "jpeg" if i % 3 == 1 else "png")
        Image.new("RGB", (96, 64), (i % 256, (i * 7) % 256, (i * 13) % 256)).save(folder / name, quality=95)
        keys.append(f"line{i % 4}/day{i % 7}/{name}")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "zero.png").write_bytes(b"")
    (root / "notes.JPG").write_text("meeting notes, not a picture")
    (root / "readme.md").write_text("ignored: not an image extension")
    return keys


def image_of(body) -> str:
    """The SHA-256 of the image a request carried (how the tests count requests per image)."""
    url = body["messages"][0]["content"][0]["image_url"]["url"]
    return hashlib.sha256(url.encode()).hexdigest()


def per_image(server) -> Counter:
    """Requests per image; a request cut off mid-upload (by a SIGKILL) carries no image."""
    return Counter(image_of(r.body) for r in server.chat_requests if isinstance(r.body, dict))


@pytest.fixture
def photos(tmp_path) -> tuple[Path, list[str]]:
    root = tmp_path / "photos"
    return root, make_photos(root)


def detections(delay: float = 0.0) -> Reply:
    return chat(DETECTIONS, delay=delay)


def coco(path: Path) -> dict:
    return json.loads(path.read_text())


def grounding_cli(*args: str, cwd=None, fsize: int | None = None, unprivileged: bool = False,
                  env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m grounding ARGS`` as a real subprocess. ``fsize`` caps the size of any file
    it writes (RLIMIT_FSIZE, with SIGXFSZ ignored so writes fail with EFBIG: a full disk without
    tmpfs); ``unprivileged`` drops root's capabilities so file permissions apply."""
    command = [sys.executable, "-m", "grounding", *args]
    if unprivileged:
        command = [*drop_privileges(), *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
                          preexec_fn=(lambda: file_size_limit(fsize)) if fsize else None)  # fmt: skip


def file_size_limit(size: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def drop_privileges() -> list[str]:
    """A command prefix under which permissions are enforced (root ignores them)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be enforced")
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]


def picture(path: Path | bytes, i: int, size: tuple[int, int] = (40, 30)) -> None:
    """A small distinct test picture (a fixture, not a photo); PNG or JPEG by the extension."""
    name = os.fsdecode(path)
    fmt = "PNG" if name.lower().endswith(".png") else "JPEG"
    with open(path, "wb") as file:
        Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)).save(file, fmt)


def one_line_error(stderr: str) -> str:
    """The error line of a failed command; it must be one line and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def wait_for_done(db: Path, n: int, timeout: float = 60) -> int:
    """Wait until the store's schema is written and ``n`` images are done (how many are)."""
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM images WHERE status='done'").fetchone()[0]
            except sqlite3.OperationalError:  # not created yet (no such table), or busy
                done = 0
            if done >= n:
                return done
        time.sleep(0.05)
    raise AssertionError(f"{db}: fewer than {n} images done after {timeout} s")


def pictures(root: Path, n: int) -> list[str]:
    """``n`` distinct small pictures in ``root`` (fixtures); their names."""
    root.mkdir(parents=True, exist_ok=True)
    names = [f"p{i:03d}.png" for i in range(n)]
    for i, name in enumerate(names):
        picture(root / name, i)
    return names


def grounding_here(*args: str) -> subprocess.CompletedProcess:
    """Run a ``grounding`` command in this process (no interpreter start-up: for the checks that
    need no signal, limit or privilege); shaped like :func:`grounding_cli`'s result, with any
    escaped exception's traceback in ``stderr``."""
    import traceback

    from typer.testing import CliRunner

    from grounding.cli import app

    result = CliRunner().invoke(app, list(args))
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, stderr)
