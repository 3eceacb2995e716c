from __future__ import annotations

import pytest

from grounding import prompts
from grounding.profiles import Profile, Thinking


@pytest.mark.parametrize(
    ("task", "model", "expected"),
    [
        # GLM's documented phrasing
        ("locate", "glm-4.5v", "Help me to locate the red car in the image and give me its bounding boxes."),
        # Qwen2.5/3-VL
        ("locate", "qwen2.5-vl-7b", "Locate the red car in this image and output the bbox coordinates in JSON format."),
        # InternVL / MiniCPM
        ("locate", "internvl3", "Please provide the bounding box coordinate of the region this sentence describes: <ref>the red car</ref>"),
        # DeepSeek-VL2
        ("locate", "deepseek-vl2", "<|ref|>the red car<|/ref|>."),
        # PaliGemma
        ("locate", "paligemma", "detect the red car\n"),
        # a family without a point phrasing borrows locate
        ("point", "paligemma", "detect the red car\n"),
        # Kimi-VL asks for 0-1 fractions
        ("point", "kimi-vl", 'Point to the red car in the image. Output JSON only: [{"point_2d": [x, y], "label": "<label>"}] (fractions of the image width and height, between 0 and 1).'),
    ],
)
def test_phrasing(task: str, model: str, expected: str) -> None:
    assert prompts.prompt_text(task, "the red car", model=model) == expected  # type: ignore[arg-type]


def test_messages_put_the_image_first() -> None:
    msgs = prompts.locate("a cup", image_url="data:image/jpeg;base64,AAAA")
    assert msgs[0]["role"] == "user"
    image, text = msgs[0]["content"]
    assert image == {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}
    assert text["type"] == "text" and "a cup" in text["text"]


@pytest.mark.parametrize(
    ("model", "fragments"),
    [
        ("glm-4.5v", ['"bbox_2d"', "scratch, dent", "normalized to 0-1000", '"label": "scratch"']),
        ("gemini-2.5-flash", ['"box_2d"', "[ymin, xmin, ymax, xmax]", "scratch, dent"]),
        ("paligemma", ["detect scratch ; dent"]),
        ("qwen3-vl", ['"scratch, dent"', "JSON"]),
    ],
)
def test_detect_lists_every_class(model: str, fragments: list) -> None:
    text = prompts.detect("scratch, dent", model=model)[0]["content"][1]["text"]
    for fragment in fragments:
        assert fragment in text


def test_gui_prompt_asks_for_glm_actions() -> None:
    text = prompts.gui_element("open settings")[0]["content"][1]["text"]
    assert "start_box" in text and "0-999" in text


def test_thinking_is_request_side_except_for_prompt_switch_profiles() -> None:
    assert "nothink" not in prompts.prompt_text("locate", "x", model="glm-4.5v", thinking=False)
    suffixed = Profile("sfx", ("sfx",), thinking=Thinking.PROMPT, thinking_suffix="/nothink")
    assert prompts.prompt_text("locate", "x", model=suffixed, thinking=False).endswith(" /nothink")
    assert not prompts.prompt_text("locate", "x", model=suffixed, thinking=True).endswith("/nothink")


@pytest.mark.parametrize("subject", ["", "  ", [], [" "]])
def test_empty_subject_is_a_caller_error(subject: object) -> None:
    with pytest.raises(ValueError):
        prompts.prompt_text("detect", subject, model="glm-4.5v")  # type: ignore[arg-type]
