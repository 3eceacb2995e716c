"""``grounding locate`` / ``detect`` / ``draw`` / ``cache`` run as a user runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import photo
from tests.server import chat, error
from tests.test_images import SQUARE, exif_jpeg

# the red square of the test photo, normalized 0-1000 on the upright 640x480 image
SQUARE_1000 = "[[625,208,781,417]]"


def grounding(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grounding", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


@pytest.fixture
def pictures(tmp_path) -> dict[str, Path]:
    plain = tmp_path / "photo.jpg"
    photo(640, 480, SQUARE).save(plain, quality=95)
    rotated = tmp_path / "phone.jpg"
    rotated.write_bytes(exif_jpeg(6))
    return {"plain": plain, "rotated": rotated}


@pytest.mark.parametrize("kind", ["plain", "rotated"])
def test_locate_json_returns_the_pixel_box(server, pictures, kind: str) -> None:
    server.default = chat(f"The car is <|begin_of_box|>{SQUARE_1000}<|end_of_box|>")
    out = grounding("locate", str(pictures[kind]), "the red car", "--provider", "openai",
                    "--base-url", server.url, "--api-key", "K-SECRET", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    box = data["boxes"][0]["xyxy"]
    assert all(abs(a - b) <= 1.0 for a, b in zip(box, SQUARE, strict=True)), box
    assert data["usage"]["prompt_tokens"] == 1200
    assert "K-SECRET" not in out.stdout + out.stderr


def test_locate_table_and_annotated_output(server, pictures, tmp_path) -> None:
    server.default = chat(f"<|begin_of_box|>{SQUARE_1000}<|end_of_box|>")
    target = tmp_path / "boxes.jpg"
    out = grounding("locate", str(pictures["plain"]), "the red car", "--base-url", server.url, "--out", str(target))
    assert out.returncode == 0, out.stderr
    assert "400.00" in out.stdout and "wrote" in out.stderr
    assert Image.open(target).size == (640, 480)


def test_detect(server, pictures) -> None:
    server.default = chat('[{"label": "scratch", "bbox_2d": [625,208,781,417]}]')
    out = grounding("detect", str(pictures["plain"]), "--classes", "scratch,dent", "--base-url", server.url, "--json")
    assert json.loads(out.stdout)["boxes"][0]["label"] == "scratch"
    assert "scratch, dent" in server.chat_requests[0].body["messages"][0]["content"][1]["text"]


def test_missing_key_says_what_to_set(pictures) -> None:
    out = grounding("locate", str(pictures["plain"]), "x")
    assert out.returncode == 2
    assert "ZAI_API_KEY" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_unreachable_endpoint_exits_2(pictures) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = grounding("locate", str(pictures["plain"]), "x", "--base-url", f"http://127.0.0.1:{port}/v1")
    assert out.returncode == 2 and "cannot reach" in out.stderr


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        # arrears: fail fast with the provider's reason
        (error(429, "1113", "Insufficient balance"), "Insufficient balance"),
        # wrong key
        (error(401, "1001", "Authentication token invalid"), "Authentication token invalid"),
    ],
)
def test_fatal_api_errors_exit_1_with_the_reason(server, pictures, reply, fragment: str) -> None:
    server.default = reply
    out = grounding("locate", str(pictures["plain"]), "x", "--base-url", server.url, "--api-key", "K-SECRET")
    assert out.returncode == 1 and fragment in out.stderr
    assert len(server.chat_requests) == 1 and "K-SECRET" not in out.stderr


def test_bad_image_names_the_file(server, tmp_path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("hello")
    out = grounding("locate", str(bad), "x", "--base-url", server.url)
    assert out.returncode == 2 and "notes.jpg" in out.stderr and "not an image" in out.stderr
    assert not server.chat_requests


def test_cache_makes_the_second_run_free_and_cache_commands(server, pictures) -> None:
    server.default = chat(f"<|begin_of_box|>{SQUARE_1000}<|end_of_box|>")
    args = ("locate", str(pictures["plain"]), "x", "--base-url", server.url, "--json")
    assert grounding(*args).returncode == 0
    second = grounding(*args)
    assert len(server.chat_requests) == 1
    assert json.loads(second.stdout)["cached"] is True
    grounding(*args, "--no-cache")
    assert len(server.chat_requests) == 2
    info = json.loads(grounding("cache", "info", "--json").stdout)
    assert info["entries"] == 1
    assert "removed 1" in grounding("cache", "clear").stdout


def test_draw_without_a_model(pictures, tmp_path) -> None:
    target = tmp_path / "drawn.png"
    out = grounding("draw", str(pictures["rotated"]), "--response", f"<|begin_of_box|>{SQUARE_1000}<|end_of_box|>", "--out", str(target), "--json")
    assert out.returncode == 0, out.stderr
    assert Image.open(target).size == (640, 480)
    assert json.loads(out.stdout)["boxes"][0]["xyxy"] == pytest.approx(list(SQUARE), abs=1)


def test_help_explains_each_command() -> None:
    for command in ("locate", "detect", "draw", "parse", "cache", "prompt"):
        out = grounding(command, "--help")
        assert out.returncode == 0 and "Usage" in out.stdout
