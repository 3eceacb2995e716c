"""``grounding datasets synth``, ``bench`` (against the loopback server) and ``score``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from grounding import get_profile, prepare_image
from grounding.cli import app
from grounding.datasets import load_samples
from tests.cli.test_ask import grounding
from tests.cli.test_commands import run
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


# --- run folders remember their configuration -------------------------------------------


def test_bench_records_its_configuration_and_refuses_another(server, synth, tmp_path) -> None:
    server.default = answering_ground_truth(synth, "val", wrong=1)
    folder = tmp_path / "run"
    common = ["bench", "refcoco", "--root", str(synth), "-s", "val", "-o", str(folder),
              "--base-url", server.url, "--no-cache", "-n", "3"]  # fmt: skip
    first = run(*common)
    assert first.returncode == 0, first.stderr
    config = json.loads((folder / "run.json").read_text())
    assert {"dataset", "split", "model", "provider", "base_url", "prompt", "thinking", "parser"} <= set(config)
    assert config["model"] == "glm-4.5v" and config["base_url"] == server.url and "{expression}" in config["prompt"]
    asked = len(server.chat_requests)

    other = run(*common, "-m", "glm-4.6v", "-n", "5")
    assert other.returncode == 2
    assert "model: 'glm-4.5v' in the folder, 'glm-4.6v' now" in other.stderr
    assert "--resume-anyway" in other.stderr and len(other.stderr.strip().splitlines()) == 1
    assert len(server.chat_requests) == asked  # nothing sent

    anyway = run(*common, "-m", "glm-4.6v", "-n", "5", "--resume-anyway")
    assert anyway.returncode == 0, anyway.stderr
    assert "resuming" in anyway.stderr and len(server.chat_requests) == asked + 2

    # the worst case in the gallery shows what the model answered
    assert "answer: `<|begin_of_box|>[[0,0,5,5]]<|end_of_box|>`" in (folder / "report.md").read_text()
    assert "answer: <code>" in (folder / "report.html").read_text()


def test_bench_refuses_a_folder_with_predictions_but_no_configuration(server, synth, tmp_path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "predictions.jsonl").write_text('{"id": "x", "response": "[[1,2,3,4]]"}\n')
    out = run("bench", "refcoco", "--root", str(synth), "-s", "val", "-o", str(folder), "--base-url", server.url)
    assert out.returncode == 2 and "run.json" in out.stderr and not server.chat_requests


def test_bench_catches_a_wrong_images_folder_before_running(server, synth, tmp_path) -> None:
    out = run("bench", "refcoco", "--root", str(synth), "-s", "val", "-o", str(tmp_path / "r"),
                    "--base-url", server.url, "--images", str(tmp_path))  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "no such file" in out.stderr and "--images" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not server.chat_requests


def test_bench_ctrl_c_keeps_the_answers_and_says_how_to_resume(server, synth, tmp_path) -> None:
    import signal
    import subprocess
    import sys
    import time

    server.default = chat("<|begin_of_box|>[[1,2,30,40]]<|end_of_box|>", delay=30)
    folder = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "grounding", "bench", "refcoco", "--root", str(synth), "-s", "val",
         "-o", str(folder), "--base-url", server.url, "--no-cache", "-k", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for _ in range(600):
            if server.chat_requests:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "rerun to resume" in stderr and "Traceback" not in stderr


# --- score ---------------------------------------------------------------------------------


def test_score_warns_on_a_split_without_predictions(synth, tmp_path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"id": s.id, "boxes": s.boxes.tolist()}) + "\n" for s in load_samples("refcoco", synth, "val")))
    result = runner.invoke(app, ["score", str(path), "-d", "refcoco", "--root", str(synth), "-s", "val,testB"])
    assert result.exit_code == 0, result.output
    assert "testB: no prediction for any of the" in " ".join(result.output.split())
    assert "val: no prediction" not in result.output
    assert "avg_val3" not in result.output  # one val split: no three-val average
    data = json.loads(runner.invoke(app, ["score", str(path), "-d", "refcoco", "--root", str(synth), "-s", "testB", "--json"]).output)
    assert any("no prediction" in w for w in data["warnings"])


def test_score_counts_refusals_apart_from_unparseable_answers(synth, tmp_path) -> None:
    samples = list(load_samples("refcoco", synth, "val"))
    answers = ["I cannot find it in the image.", "[]", "[[12, 40, 3"]
    rows = [{"id": s.id, "response": a} for s, a in zip(samples, answers, strict=False)]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["score", str(path), "-d", "refcoco", "--root", str(synth), "-s", "val", "--json"])
    data = json.loads(result.output)
    assert data["n_refused"] == 2 and data["n_parse_fail"] == 1
    assert data["n_missing"] == len(samples) - 3 and data["n_error"] == 0 and data["n"] == len(samples)


def test_score_json_rounds_fractions_and_reads_the_model_from_run_json(synth, tmp_path) -> None:
    samples = list(load_samples("refcoco", synth, "val"))
    rows = []
    for i, s in enumerate(samples):
        w, h = s.size
        x1, y1, x2, y2 = s.boxes[0]
        # Gemini's order: [ymin, xmin, ymax, xmax] normalized to 0-1000; one answer is wrong
        box = [0, 0, 5, 5] if i == 0 else [y1 / h * 1000, x1 / w * 1000, y2 / h * 1000, x2 / w * 1000]
        rows.append({"id": s.id, "response": json.dumps([{"box_2d": [round(v) for v in box]}])})
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "run.json").write_text(json.dumps({"model": "gemini-2.5-flash"}))
    args = ["score", str(folder / "predictions.jsonl"), "-d", "refcoco", "--root", str(synth), "-s", "val", "--json"]
    data = json.loads(runner.invoke(app, args).output)
    assert data["acc@0.5"] == round((len(samples) - 1) / len(samples), 4)
    assert all(len(str(v).split(".")[-1]) <= 4 for v in data.values() if isinstance(v, float))
    wrong_profile = json.loads(runner.invoke(app, [*args, "-m", "glm-4.5v"]).output)
    assert wrong_profile["acc@0.5"] < data["acc@0.5"]
