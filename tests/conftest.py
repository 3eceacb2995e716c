from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"


def assert_close(actual: np.ndarray, expected: object, width: int, atol: float = 0.5) -> None:
    """Shapes equal and every coordinate within ``atol`` pixels."""
    want = np.asarray(expected, dtype=float).reshape(-1, width)
    got = np.asarray(actual, dtype=float).reshape(-1, width)
    assert got.shape == want.shape, f"{got.tolist()} != {want.tolist()}"
    np.testing.assert_allclose(got, want, atol=atol, rtol=0)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def server():
    """The scripted OpenAI-compatible server on 127.0.0.1 (see tests/server.py)."""
    from tests.server import ScriptedServer

    with ScriptedServer() as s:
        yield s


@pytest.fixture
def fast_retry():
    from grounding.client import RetryPolicy

    return RetryPolicy(max_retries=4, base_delay=0.01, slow_base_delay=0.02, max_delay=0.2)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No real keys or provider settings leak in; the cache lives in the test's tmp dir."""
    for name in ("ZAI_API_KEY", "ZHIPUAI_API_KEY", "OPENAI_API_KEY", "GROUNDING_PROVIDER",
                 "GROUNDING_BASE_URL", "GROUNDING_MODEL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GROUNDING_CACHE_DIR", str(tmp_path / "cache"))


def photo(width: int = 640, height: int = 480, square: tuple[int, int, int, int] | None = None):
    """A test picture (grey) with an optional red square at upright pixels (x1, y1, x2, y2)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (128, 128, 128))
    if square:
        ImageDraw.Draw(image).rectangle(square, fill=(255, 0, 0))
    return image
