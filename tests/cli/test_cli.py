from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from grounding import __version__
from grounding.cli import app

runner = CliRunner()
GLM = "The bottle is <|begin_of_box|>[[94,598,177,991]]<|end_of_box|>."


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_parse_json() -> None:
    result = runner.invoke(app, ["parse", GLM, "--size", "1200x800", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [round(v, 1) for v in data["boxes"][0]["xyxy"]] == [112.8, 478.4, 212.4, 792.8]


def test_parse_table_and_warnings() -> None:
    result = runner.invoke(app, ["parse", "[[300,400,100,200]]", "-s", "1000x1000"])
    assert result.exit_code == 0
    assert "100.00  200.00  300.00  400.00" in result.output  # two decimals
    assert "sorted the corners" in result.output


def test_parse_reads_stdin() -> None:
    text = '[{"box_2d": [200, 100, 400, 300], "label": "cat"}]'
    result = runner.invoke(app, ["parse", "-", "-m", "gemini-2.5-flash", "-s", "1000x1000", "--json"], input=text)
    assert json.loads(result.output)["boxes"] == [{"xyxy": [100.0, 200.0, 300.0, 400.0], "label": "cat"}]


def test_parse_input_size() -> None:
    args = ["parse", '{"bbox_2d": [0, 0, 100, 100]}', "-m", "qwen2.5-vl", "-s", "400x400", "--input-size", "200x200", "--json"]
    assert json.loads(runner.invoke(app, args).output)["boxes"][0]["xyxy"] == [0.0, 0.0, 200.0, 200.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # not WIDTHxHEIGHT
        (["parse", "x", "--size", "big"], "WIDTHxHEIGHT"),
        # zero height
        (["parse", "x", "--size", "10x0"], "positive"),
        # missing --size
        (["parse", "x"], "--size"),
        # bad input size
        (["parse", "x", "-s", "10x10", "--input-size", "1"], "--input-size"),
    ],
)
def test_parse_bad_options_exit_2_with_a_clear_line(args: list, message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("task", ["locate", "detect", "point", "gui"])
def test_prompt_prints_messages(task: str) -> None:
    result = runner.invoke(app, ["prompt", task, "the red car", "--model", "qwen2.5-vl"])
    assert result.exit_code == 0, result.output
    messages = json.loads(result.output)
    assert messages[0]["content"][0]["type"] == "image_url"


def test_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "grounding", "parse", GLM, "-s", "1200x800", "--json"],
        capture_output=True, text=True, check=True,
    )
    assert json.loads(out.stdout)["boxes"][0]["label"] is None
