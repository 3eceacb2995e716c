"""Token log-probabilities to per-shape scores, for every dialect the parser reads."""

from __future__ import annotations

import base64
import io
import math
import re

import numpy as np
import pytest
from PIL import Image

from grounding.confidence import score_shapes
from grounding.datasets.synthetic import write_synthetic
from grounding.evals.calibration import match_detections
from grounding.parsing import parse
from tests.noisy_server import NoisyDetector

SIZE = (1000, 1000)
SURE, UNSURE = -0.01, -2.0


def tokens(text: str, unsure: str = "") -> list[tuple[str, float]]:
    """Split into word/number/punctuation tokens; those inside ``unsure`` get a low logprob."""
    out, position = [], 0
    start = text.find(unsure) if unsure else -1
    for token in re.findall(r"\d+|[A-Za-z_]+|\s+|<\|[a-z_]+\|>|<[a-z_]+\d*>|.", text):
        inside = start >= 0 and start <= position < start + len(unsure)
        out.append((token, UNSURE if inside else SURE))
        position += len(token)
    assert "".join(t for t, _ in out) == text
    return out


def scores(text: str, unsure: str = "", model: str = "glm-4.5v") -> list[float]:
    def read(t: str):
        return parse(t, model=model, image_size=SIZE)

    return score_shapes(read(text), tokens(text, unsure), read).confidence.round(3).tolist()


HIGH, LOW = round(math.exp(SURE), 3), None  # LOW: clearly under HIGH

CASES = [
    # text, the part written unsurely, model, expected (HIGH or LOW per box)
    ("<|begin_of_box|>[[10,10,50,50],[60,60,90,90]]<|end_of_box|>", "", "glm-4.5v", [HIGH, HIGH]),  # all sure
    ("<|begin_of_box|>[[10,10,50,50],[60,60,90,90]]<|end_of_box|>", ",[60,60,90,90]", "glm-4.5v", [HIGH, LOW]),  # an unsure extra box
    ('[{"label": "cat", "bbox_2d": [10,10,50,50]}, {"label": "dog", "bbox_2d": [60,60,90,90]}]', '"dog"', "glm-4.5v", [HIGH, LOW]),  # an unsure label
    ('The cat is here: [{"bbox_2d": [10,10,50,50], "label": "cat"}]', "", "glm-4.5v", [HIGH]),  # label after the box
    ("<|object_ref_start|>cat<|object_ref_end|><|box_start|>(100,100),(500,500)<|box_end|>", "cat", "qwen2-vl", [LOW]),  # Qwen2-VL tokens
]


@pytest.mark.parametrize(("text", "unsure", "model", "expected"), CASES)
def test_scores_follow_the_tokens(text: str, unsure: str, model: str, expected: list) -> None:
    got = scores(text, unsure, model)
    assert len(got) == len(expected)
    for value, want in zip(got, expected, strict=True):
        if want is LOW:
            assert value < HIGH - 0.2
        else:
            assert value == pytest.approx(want, abs=1e-3)


def test_tokens_that_do_not_spell_the_answer_give_no_score() -> None:
    g = parse("[[10,10,50,50]]", image_size=SIZE)
    out = score_shapes(g, [("something else", -0.1)], lambda t: parse(t, image_size=SIZE), "[[10,10,50,50]]")
    assert np.isnan(out.confidence).all()
    assert any("do not spell" in w for w in out.warnings)


def test_reasoning_tokens_before_the_answer_are_skipped() -> None:
    answer = "[[10,10,50,50]]"
    g = parse(answer, image_size=SIZE)
    toks = [("<think>", -3.0), ("maybe", -3.0), ("</think>", -3.0), *tokens(answer)]
    out = score_shapes(g, toks, lambda t: parse(t, image_size=SIZE), answer)
    assert out.confidence[0] == pytest.approx(math.exp(SURE), abs=1e-3)


def test_on_the_noisy_fixture_wrong_boxes_score_lower(tmp_path) -> None:
    """The fixture's wrong and extra boxes carry lower logprobs; the scores must show it."""
    root = write_synthetic(tmp_path, n=12, seed=5)
    detector = NoisyDetector(seed=1)
    right, wrong = [], []
    import json

    coco = json.loads((root / "instances.json").read_text())
    names = {1: "circle", 2: "square", 3: "triangle"}
    for image in coco["images"]:
        data = (root / "images" / image["file_name"]).read_bytes()
        url = "data:image/jpeg;base64," + base64.b64encode(data).decode()
        body = {"logprobs": True, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]}
        choice = detector(body).body["choices"][0]
        toks = [(t["token"], t["logprob"]) for t in choice["logprobs"]["content"]]
        size = Image.open(io.BytesIO(data)).size

        def read(t: str, size=size):
            return parse(t, model="glm-4.5v", image_size=size)

        g = score_shapes(read(choice["message"]["content"]), toks, read)
        anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        gt = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns]
        ok = match_detections(g.boxes, g.labels, g.confidence, gt, [names[a["category_id"]] for a in anns])
        right += g.confidence[ok].tolist()
        wrong += g.confidence[~ok].tolist()
    assert right and wrong
    assert np.mean(right) > np.mean(wrong) + 0.3
