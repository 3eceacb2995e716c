"""The command line as a careful user meets it: honest help, errors before spending, the same
exit codes everywhere, classes that map, points and GUI actions, readable numbers.

Every server answer here is a fixture written for the test, not a model's output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import grounding
from grounding.cli import app, main
from grounding.cli.exits import fail, one_line
from tests.cli.test_ask import SQUARE_1000, pictures  # noqa: F401
from tests.conftest import photo
from tests.server import chat

runner = CliRunner()


class Ran:
    """What a command printed and returned, in the shape of ``subprocess.CompletedProcess``."""

    def __init__(self, args: tuple[str, ...]) -> None:
        result = runner.invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.returncode, self.stdout, self.stderr = result.exit_code, result.stdout, result.stderr


def run(*args: str) -> Ran:
    """Run ``grounding ARGS`` in this process (fast); tests/cli/test_ask.py runs real ones."""
    return Ran(args)


def _commands(command=None, path=()):
    """(path, click command) for every command and sub-command of the app."""
    command = command or typer.main.get_command(app)
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    for name, sub in subcommands.items():
        yield from _commands(sub, (*path, name))


def _flat(text: str) -> str:
    return " ".join(text.split())


ALL_COMMANDS = [path for path, _ in _commands()]


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=[" ".join(p) for p in ALL_COMMANDS])
def test_help_shows_every_bracketed_text_as_written(path) -> None:
    command = dict(_commands())[path]
    result = runner.invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    bracketed = [p.help for p in command.params if getattr(p, "help", None) and "[" in p.help]
    for text in bracketed:
        assert _flat(text) in shown, f"{' '.join(path)} --help lost: {text}"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        # the score docstring's JSON line shapes
        (["score"], '{"id", "boxes": [[x1,y1,x2,y2], ...]} in pixels'),
        # a default told in words
        (["locate"], "[default: GROUNDING_MODEL, else glm-4.5v]"),
        # the image folder default of bench
        (["bench"], "Image folder [default: ROOT/images]"),
        # draw's model answer example keeps its brackets
        (["draw"], "[[94,598,177,991]]"),
    ],
)
def test_help_keeps_brackets_and_json(path, text) -> None:
    result = runner.invoke(app, [*path, "--help"], terminal_width=100)
    assert text in _flat(result.output)


def test_markup_like_text_in_tables_is_printed_as_written() -> None:
    # a label that looks like rich markup must reach the table intact
    g = '[{"label": "[bold]dent[/]", "bbox_2d": [100, 100, 200, 200]}]'
    result = runner.invoke(app, ["parse", g, "-s", "1000x1000"])
    assert "[bold]dent[/]" in result.output


@pytest.mark.parametrize(
    ("out", "fragment"),
    [
        # a folder that does not exist
        ("/nonexistent-folder/x.jpg", "does not exist"),
        # an extension Pillow cannot write
        ("{tmp}/out.xyz", "unknown image extension '.xyz'"),
        # a folder given where a file is wanted
        ("{tmp}", "is a folder"),
    ],
)
def test_bad_out_is_one_line_exit_2_before_any_request(server, pictures, tmp_path, out, fragment) -> None:  # noqa: F811
    server.default = chat(f"<|begin_of_box|>{SQUARE_1000}<|end_of_box|>")
    target = out.format(tmp=tmp_path)
    for command in (["locate", str(pictures["plain"]), "the car"], ["detect", str(pictures["plain"]), "-c", "car"]):
        result = run(*command, "--base-url", server.url, "--out", target)
        assert result.returncode == 2, result.stderr
        assert fragment in result.stderr and target in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not server.chat_requests  # nothing was spent


def test_draw_checks_out_before_reading(pictures, tmp_path) -> None:  # noqa: F811
    result = run("draw", str(pictures["plain"]), "-r", SQUARE_1000, "--out", str(tmp_path / "x.xyz"))
    assert result.returncode == 2 and "unknown image extension" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unexpected_crash_is_one_line_and_exit_4(monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("grounding.cli.parse.parse_text", broken)
    monkeypatch.setattr(sys, "argv", ["grounding", "parse", "[[1,2,3,4]]", "-s", "10x10"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 4
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err and "GROUNDING_DEBUG" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a message ending in a full stop followed by a hint
        ("Insufficient balance.. Fix the account.", "Insufficient balance. Fix the account."),
        # a stop, a space, a stop
        ("stopped. . Rerun", "stopped. Rerun"),
        # an ellipsis stays
        ("waiting...", "waiting..."),
        # several lines become one
        ("line one\n  line two", "line one line two"),
    ],
)
def test_one_line(text, expected) -> None:
    assert one_line(text) == expected


def test_fail_prints_one_line_with_brackets_kept(capsys) -> None:
    with pytest.raises(typer.Exit) as exit_info:
        fail("photos/[2024]/a.jpg: no such file.", 2)
    assert exit_info.value.exit_code == 2
    assert capsys.readouterr().err == "error: photos/[2024]/a.jpg: no such file.\n"


def test_max_image_mp_refuses_a_large_image_before_sending(server, tmp_path) -> None:
    big = tmp_path / "big.png"
    photo(2000, 1000).save(big)
    result = run("locate", str(big), "x", "--base-url", server.url, "--max-image-mp", "1")
    assert result.returncode == 2 and "too large" in result.stderr and "big.png" in result.stderr
    assert not server.chat_requests


# --- classes -----------------------------------------------------------------------------

TWO_LABELS = (
    '[{"label": "red square-1", "bbox_2d": [625,208,781,417]},'
    ' {"label": "rust", "bbox_2d": [10,10,50,50]}]'
)


def test_detect_maps_labels_onto_the_classes(server, pictures) -> None:  # noqa: F811
    server.default = chat(TWO_LABELS)
    args = ("detect", str(pictures["plain"]), "-c", "green square,red square", "--base-url", server.url, "--json")
    data = json.loads(run(*args).stdout)
    assert [b["label"] for b in data["boxes"]] == ["red square"]
    assert any("'rust'" in w for w in data["warnings"])  # dropped, and said so
    kept = json.loads(run(*args, "--keep-unknown").stdout)
    assert [b["label"] for b in kept["boxes"]] == ["red square", "rust"]


def test_detect_with_one_class_labels_an_unlabelled_box(server, pictures) -> None:  # noqa: F811
    server.default = chat(f"<|begin_of_box|>{SQUARE_1000}<|end_of_box|>")
    out = run("detect", str(pictures["plain"]), "-c", "red square", "--base-url", server.url, "--json")
    assert [b["label"] for b in json.loads(out.stdout)["boxes"]] == ["red square"]


def test_api_detect_gives_class_ids_by_the_list_order(server, pictures) -> None:  # noqa: F811
    server.default = chat(TWO_LABELS)
    result = grounding.detect(
        pictures["plain"], ["green square", "red square"], provider="openai", base_url=server.url
    )
    detections = result.to_detections()
    assert detections.class_id.tolist() == [1]
    assert detections.data["class_name"].tolist() == ["red square"]


# --- point and gui -----------------------------------------------------------------------


def test_point_prints_the_pixel_point(server, pictures) -> None:  # noqa: F811
    server.default = chat("[[500,500]]")
    result = run("point", str(pictures["plain"]), "the centre", "--base-url", server.url, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["points"][0]["xy"] == pytest.approx([320, 240], abs=1)
    assert "point to" in server.chat_requests[0].body["messages"][0]["content"][1]["text"].lower()


@pytest.mark.parametrize(
    ("answer", "action", "xy", "element"),
    [
        # GLM's action call: the action, its point in pixels, the element
        ("left_click(start_box='[500,500]', element_info='Settings')", "left_click", [320, 240], "Settings"),
        # a double click somewhere else
        ("double_click(start_box='[250,750]')", "double_click", [160, 360], None),
        # a bare point is a click
        ("[[500,250]]", "click", [320, 120], None),
    ],
)
def test_gui_prints_the_action_with_pixel_coordinates(server, pictures, answer, action, xy, element) -> None:  # noqa: F811
    server.default = chat(answer)
    image = str(pictures["plain"])
    data = json.loads(run("gui", image, "open the settings", "--base-url", server.url, "--json").stdout)
    (found,) = data["actions"]
    assert found["action"] == action and found["xy"] == pytest.approx(xy, abs=1)
    assert found["element"] == element
    table = run("gui", image, "open the settings", "--base-url", server.url)
    assert table.returncode == 0 and action in table.stdout
    assert f"{found['xy'][0]:.2f}" in table.stdout


def test_gui_drag_has_an_end_point(server, pictures) -> None:  # noqa: F811
    server.default = chat("drag(start_box='[100,100]', end_box='[500,500]')")
    data = json.loads(run("gui", str(pictures["plain"]), "drag it", "--base-url", server.url, "--json").stdout)
    (drag,) = data["actions"]
    assert drag["action"] == "drag"
    assert drag["xy"] == pytest.approx([64, 48], abs=1) and drag["end_xy"] == pytest.approx([320, 240], abs=1)


# --- numbers people read --------------------------------------------------------------------


def test_json_and_tables_show_two_decimals_the_library_keeps_all(server, tmp_path) -> None:
    image = tmp_path / "wide.png"
    photo(1200, 800).save(image)
    server.default = chat("[[833,100,900,200]]")
    out = run("locate", str(image), "x", "--base-url", server.url, "--json")
    assert '"xyxy": [999.6, 80.0, 1080.0, 160.0]' in out.stdout
    table = run("locate", str(image), "x", "--base-url", server.url)
    assert "999.60  80.00  1080.00  160.00" in table.stdout
    library = grounding.parse("[[833,100,900,200]]", model="glm-4.5v", image_size=(1200, 800))
    assert library.boxes[0, 0] != 999.6 and abs(library.boxes[0, 0] - 999.6) < 1e-9


# --- the quick start's sample image ---------------------------------------------------------


def test_quick_start_photo_exists_and_is_made_by_the_project(repo: Path) -> None:
    from PIL import Image

    sample = repo / "examples" / "photo.jpg"
    with Image.open(sample) as image:
        assert image.size == (640, 480)
    assert (repo / "examples" / "make_photo.py").is_file()
    assert "examples/photo.jpg" in (repo / "README.md").read_text()


def test_label_dry_run_shows_the_prompt_as_sent(tmp_path, monkeypatch) -> None:
    # the prompt's JSON example ([{"label": …, "bbox_2d": [x1, y1, x2, y2]}]) must not be eaten
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(64, 48).save(folder / "a.jpg")
    monkeypatch.setenv("ZAI_API_KEY", "K-FIXTURE")
    result = runner.invoke(
        app, ["label", str(folder), "-c", "dent", "--out", str(tmp_path / "out"), "--dry-run"],
        terminal_width=400,
    )
    assert result.exit_code == 0, result.output
    assert '"bbox_2d": [x1, y1, x2, y2]' in result.stdout
