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
