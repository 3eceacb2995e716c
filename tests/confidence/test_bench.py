"""`grounding bench coco --confidence ...` end to end on the noisy fixture detector."""

from __future__ import annotations

import json

import pytest

from grounding.datasets.synthetic import write_synthetic
from grounding.testing import ScriptedServer
from tests.labeling.conftest import grounding_cli
from tests.noisy_server import NoisyDetector


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("synth"), n=20, seed=8)


def bench(root, out, server, *extra: str):
    return grounding_cli("bench", "coco", "--root", str(root), "-s", "val", "-o", str(out), "--base-url", server.url,
                         "-m", "glm-4.5v", "--no-cache", "-k", "4", *extra)  # fmt: skip


def test_scores_raise_ap_and_are_reported(synth, tmp_path) -> None:
    aps = {}
    for method in ("none", "consistency", "logprobs"):
        with ScriptedServer(NoisyDetector(seed=1)) as server:
            run = bench(synth, tmp_path / method, server, "--confidence", method, "--samples", "4")
            assert run.returncode == 0, run.stderr
        metrics = json.loads((tmp_path / method / "metrics.json").read_text())["splits"]["val"]
        aps[method] = metrics["AP"]
        if method != "none":
            assert 0 <= metrics["ECE"] <= 1 and metrics["reliability"]
            assert "<svg" in (tmp_path / method / "report.html").read_text()
            assert json.loads((tmp_path / method / "run.json").read_text())["confidence"].startswith(method)
    assert aps["consistency"] > aps["none"] and aps["logprobs"] > aps["none"]


def test_resuming_with_another_confidence_is_refused(synth, tmp_path) -> None:
    with ScriptedServer(NoisyDetector(seed=1)) as server:
        assert bench(synth, tmp_path / "run", server, "-n", "2").returncode == 0
        again = bench(synth, tmp_path / "run", server, "-n", "2", "--confidence", "consistency")
    assert again.returncode == 2 and "confidence" in again.stderr
