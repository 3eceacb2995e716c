from __future__ import annotations

import pytest

import grounding
from grounding.profiles import (
    DEFAULT_PROFILE,
    Profile,
    Reference,
    Thinking,
    find_profile,
    get_profile,
    list_profiles,
    register_profile,
    unregister_profile,
)


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("glm-4.5v", "glm-4.5v"),
        ("zai-org/GLM-4.5V-FP8", "glm-4.5v"),  # provider prefix and quantization suffix
        ("GLM-4.6V", "glm-4.6v"),
        ("glm-4.6v-flash", "glm-4.6v-flash"),  # longest pattern wins over glm-4.6v
        ("glm-4.6v-flashx", "glm-4.6v-flash"),
        ("THUDM/GLM-4.1V-9B-Thinking", "glm-4.1v-thinking"),
        ("glm-5v-turbo", "glm-5v-turbo"),
        ("Qwen/Qwen-VL-Chat", "qwen-vl"),
        ("Qwen/Qwen2-VL-7B-Instruct", "qwen2-vl"),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2.5-vl"),
        ("qwen2.5vl:7b", "qwen2.5-vl"),  # Ollama spelling
        ("qwen2_5_vl", "qwen2.5-vl"),  # underscores
        ("Qwen/Qwen3-VL-235B-A22B-Instruct", "qwen3-vl"),
        ("OpenGVLab/InternVL3-8B", "internvl"),
        ("openbmb/MiniCPM-V-2_6", "minicpm-v"),
        ("THUDM/cogvlm2-llama3-chat-19B", "cogvlm"),
        ("THUDM/cogagent-9b-20241220", "cogvlm"),
        ("deepseek-ai/deepseek-vl2-tiny", "deepseek-vl2"),
        ("google/paligemma2-3b-pt-448", "paligemma"),
        ("microsoft/Florence-2-large-ft", "florence-2"),
        ("microsoft/kosmos-2-patch14-224", "kosmos-2"),
        ("allenai/Molmo-7B-D-0924", "molmo"),
        ("gemini-2.5-flash", "gemini"),
        ("gemini-robotics-er-1.5-preview", "gemini"),
        ("vikhyatk/moondream2", "moondream"),
        ("moonshotai/Kimi-VL-A3B-Instruct", "kimi-vl"),
    ],
)
def test_names_resolve(name: str, profile: str) -> None:
    assert get_profile(name).name == profile


def test_unknown_name_falls_back_to_the_glm_default() -> None:
    assert find_profile("gpt-4o") is None
    assert get_profile("gpt-4o") is DEFAULT_PROFILE
    assert DEFAULT_PROFILE.scale == 1000 and DEFAULT_PROFILE.order == "xy"


@pytest.mark.parametrize(
    ("name", "scale", "order", "reference", "thinking"),
    [
        ("glm-4.5v", 1000, "xy", Reference.NORMALIZED, Thinking.REQUEST),
        ("glm-4.1v-thinking", 1000, "xy", Reference.NORMALIZED, Thinking.ALWAYS),
        ("qwen2.5-vl", 1000, "xy", Reference.RESIZED_INPUT, Thinking.NONE),
        ("deepseek-vl2", 999, "xy", Reference.NORMALIZED, Thinking.NONE),
        ("paligemma", 1024, "yx", Reference.NORMALIZED, Thinking.NONE),
        ("molmo", 100, "xy", Reference.NORMALIZED, Thinking.NONE),
        ("gemini", 1000, "yx", Reference.NORMALIZED, Thinking.REQUEST),
        ("kimi-vl", 1, "xy", Reference.NORMALIZED, Thinking.NONE),
    ],
)
def test_profile_conventions(name: str, scale: float, order: str, reference: Reference, thinking: Thinking) -> None:
    p = get_profile(name)
    assert (p.scale, p.order, p.reference, p.thinking) == (scale, order, reference, thinking)


def test_register_profile_wins_and_is_used_by_parse() -> None:
    mine = register_profile(Profile("acme-vl", ("acme-vl",), scale=100.0, order="yx"))
    try:
        assert get_profile("Acme/ACME-VL-2B") is mine
        assert list_profiles()[0] is mine
        g = grounding.parse("[[50, 25]]", model="acme-vl-2b", image_size=(200, 100))
        assert g.points.tolist() == [[50.0, 50.0]] and not g.warnings
    finally:
        unregister_profile("acme-vl")
    assert get_profile("acme-vl") is DEFAULT_PROFILE


def test_frame_for_resized_input_uses_smart_resize_by_default() -> None:
    frame = get_profile("qwen2.5-vl").frame((1280, 960))
    assert (frame.sx, frame.sy) == (1288, 952)
    assert get_profile("qwen2.5-vl").frame((1280, 960), (640, 480)).sx == 640


def test_describe() -> None:
    assert get_profile("gemini").describe() == "0-1000 normalized, y,x order"
    assert "resized input" in get_profile("qwen2.5-vl").describe()
