"""``grounding datasets synth``, ``bench`` (against the loopback server) and ``score``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from grounding import get_profile, prepare_image
from grounding.cli import app
from grounding.datasets import load_samples
from tests.cli.test_ask import grounding
from tests.server import chat

runner = CliRunner()


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "synth"
    result = runner.invoke(app, ["datasets", "synth", str(root), "--n", "40", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote 40 images" in result.output
    return root


def answering_ground_truth(root, split: str, wrong: int = 0):
    """A server reply function: the ground truth box normalized to 0-1000 (a fixture, not a
    model), except for the first ``wrong`` samples, which get a box in the wrong corner."""
    truth = {}
    for i, s in enumerate(load_samples("refcoco", root, split)):
        url = prepare_image(s.image, profile=get_profile("glm-4.5v")).url
        w, h = s.size
        x1, y1, x2, y2 = s.boxes[0]
        box = [0, 0, 5, 5] if i < wrong else [x1 / w * 1000, y1 / h * 1000, x2 / w * 1000, y2 / h * 1000]
        truth[url] = "<|begin_of_box|>[[" + ",".join(f"{v:.0f}" for v in box) + "]]<|end_of_box|>"

    def reply(body):
        return chat(truth.get(body["messages"][0]["content"][0]["image_url"]["url"], "not sure"))

    return reply


def test_bench_runs_resumes_and_reports(server, synth, tmp_path) -> None:
    samples = list(load_samples("refcoco", synth, "testA"))
    server.default = answering_ground_truth(synth, "testA", wrong=2)
    run = tmp_path / "run"
    common = ["bench", "refcoco", "--root", str(synth), "-s", "testA", "-o", str(run),
              "--base-url", server.url, "-k", "3", "--no-cache"]
    first = grounding(*common, "--limit", "5")
    assert first.returncode == 0, first.stderr
    assert len(server.chat_requests) == 5
    second = grounding(*common)  # resumes: only the rest is asked
    assert second.returncode == 0, second.stderr
    assert len(server.chat_requests) == len(samples)
    metrics = json.loads((run / "metrics.json").read_text())
    split = metrics["splits"]["testA"]
    assert split["n"] == len(samples) and split["acc@0.5"] == pytest.approx((len(samples) - 2) / len(samples))
    assert metrics["config"]["model"] == "glm-4.5v" and "0-1000" in metrics["config"]["coordinates"]
    assert "Worst cases" in (run / "report.md").read_text()
    assert "<img" in (run / "report.html").read_text()
    assert len(list((run / "gallery").glob("*.jpg"))) >= 2
    lines = (run / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == len(samples) and {"id", "response", "parsed", "latency", "usage"} <= set(json.loads(lines[0]))


def test_score_json_keys_and_reparse(server, synth, tmp_path) -> None:
    run = tmp_path / "run"
    server.default = answering_ground_truth(synth, "val")
    bench = grounding("bench", "refcoco", "--root", str(synth), "-s", "val", "-o", str(run), "--base-url", server.url)
    assert bench.returncode == 0, bench.stderr
    result = runner.invoke(app, ["score", str(run / "predictions.jsonl"), "--dataset", "refcoco", "--root", str(synth), "--split", "val", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("n", "acc@0.5", "acc@0.75", "acc@0.9", "miou", "ciou", "n_parse_fail", "acc@0.5_valid"):
        assert key in data
    assert data["acc@0.5"] == 1.0 and data["n_parse_fail"] == 0


def test_score_several_splits_prints_averages(synth, tmp_path) -> None:
    path = tmp_path / "p.jsonl"
    rows = [{"id": s.id, "boxes": s.boxes.tolist()} for split in ("val", "testA") for s in load_samples("refcoco", synth, split)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["score", str(path), "-d", "refcoco", "--root", str(synth), "-s", "val,testA,testB"])
    assert result.exit_code == 0, result.output
    assert "across 3 splits" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score", "nope.jsonl", "-d", "refcoco", "--root", "x", "-s", "val"], "no such file"),
        (["score", "p.jsonl", "-d", "imagenet", "--root", "x", "-s", "val"], "use one of"),
        (["datasets", "synth", "out", "--n", "0"], "at least 1"),
    ],
)
def test_clear_errors(args: list, message: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.jsonl").write_text("")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output
