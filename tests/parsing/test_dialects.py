"""Every dialect of spec section 1, one commented case per line (beyond the shared corpus)."""

from __future__ import annotations

import pytest

import grounding
from tests.conftest import assert_close

W, H = 1000, 500  # x scales by 1, y by 0.5 on a 0-1000 grid: easy to check by eye


@pytest.mark.parametrize(
    ("model", "text", "boxes", "labels"),
    [
        # GLM: each bracket style inside the markers
        ("glm-4.5v", "<|begin_of_box|>{100,200,300,400}<|end_of_box|>", [[100, 100, 300, 200]], None),
        ("glm-4.5v", "<|begin_of_box|>[100,200,300,400]<|end_of_box|>", [[100, 100, 300, 200]], None),
        # GLM: unmatched begin marker runs to the end of the text
        ("glm-4.5v", "see <|begin_of_box|>[[100,200,300,400]]", [[100, 100, 300, 200]], None),
        # GLM: markers around a non-box answer (a count) give nothing
        ("glm-4.5v", "There are <|begin_of_box|>3<|end_of_box|> cats.", [], None),
        # GLM: restated answer: exact duplicates dropped
        ("glm-4.5v", "[[100,200,300,400]] so the answer is [[100,200,300,400]]", [[100, 100, 300, 200]], None),
        # GLM: ideographic commas and full-width brackets
        ("glm-4.5v", "位置：［100、200、300、400］", [[100, 100, 300, 200]], None),
        # GLM: full-width digits
        ("glm-4.5v", "[[１００,２００,３００,４００]]", [[100, 100, 300, 200]], None),
        # zero-area box after clipping is dropped
        ("glm-4.5v", "[[1200,100,1300,400]]", [], None),
        # spaces as separators, decimals
        ("glm-4.5v", "[100.5 200 300 400]", [[100.5, 100, 300, 200]], None),
        # JSON: alias keys and a wrapper object
        ("glm-4.5v", '{"objects": [{"box": [100,200,300,400], "class": "bolt"}]}', [[100, 100, 300, 200]], ["bolt"]),
        ("glm-4.5v", '{"boxes": [{"coordinates": [100,200,300,400], "name": "nut"}]}', [[100, 100, 300, 200]], ["nut"]),
        ("glm-4.5v", '[{"position": [100,200,300,400], "description": "a cup"}]', [[100, 100, 300, 200]], ["a cup"]),
        # JSON: box given as two corner pairs
        ("glm-4.5v", '[{"bbox_2d": [[100,200],[300,400]], "label": "x"}]', [[100, 100, 300, 200]], ["x"]),
        # JSON: trailing commas and zero-padded integers repaired
        ("glm-4.5v", '[{"bbox_2d": [0100, 200, 300, 400,], "label": "a",},]', [[100, 100, 300, 200]], ["a"]),
        # JSON: fence in upper case with prose on the fence line
        ("glm-4.5v", '```JSON here you go\n[{"bbox_2d": [100,200,300,400]}]\n```', [[100, 100, 300, 200]], [None]),
        # Python literal with None/True and single quotes
        ("glm-4.5v", "[{'bbox_2d': (100, 200, 300, 400), 'label': 'a', 'x': None}]", [[100, 100, 300, 200]], ["a"]),
        # named corner keys (x,y whatever the profile)
        ("gemini-2.0-flash", '{"x_min": 100, "y_min": 200, "x_max": 300, "y_max": 400}', [[100, 100, 300, 200]], None),
        # Gemini: y,x order
        ("gemini-2.5-pro", '[{"box_2d": [200,100,400,300], "label": "a"}]', [[100, 100, 300, 200]], ["a"]),
        # Qwen3-VL: 0-1000 JSON
        ("Qwen/Qwen3-VL-8B-Instruct", '[{"bbox_2d": [100,200,300,400], "label": "a"}]', [[100, 100, 300, 200]], ["a"]),
        # Qwen-VL v1: several <box> after one <ref>
        ("qwen-vl", "<ref>cup</ref><box>(100,200),(300,400)</box><box>(500,200),(600,400)</box>", [[100, 100, 300, 200], [500, 100, 600, 200]], ["cup", "cup"]),
        # InternVL: box without a ref
        ("internvl2_5-8b", "<box>[[100,200,300,400]]</box>", [[100, 100, 300, 200]], [None]),
        # CogAgent: zero padding and ; separator
        ("cogagent-9b", "icons [[010,020,030,040;050,060,070,080]]", [[10, 10, 30, 20], [50, 30, 70, 40]], None),
        # DeepSeek-VL2: several boxes in one det span, divided by 999
        ("deepseek-vl2-small", "<|ref|>dog<|/ref|><|det|>[[0,0,999,999],[0,0,999,999]]<|/det|>", [[0, 0, 1000, 500]], ["dog"]),
        # PaliGemma 2: label with punctuation and digits
        ("google/paligemma2-3b-pt-448", "<loc0000><loc0000><loc1024><loc1024> car #2 (left)", [[0, 0, 1000, 500]], ["car #2 (left)"]),
        # Florence-2: noise tokens around the label
        ("microsoft/Florence-2-large", "</s><s>cat<loc_0><loc_0><loc_999><loc_999></s>", [[0.5, 0.25, 999.5, 499.75]], ["cat"]),
        # Kosmos-2: two boxes for one phrase, corners in one row cover whole cells
        ("microsoft/kosmos-2-patch14-224", "<phrase>cars</phrase><object><patch_index_0000><patch_index_0031></delimiter_of_multi_objects/><patch_index_0000><patch_index_1023></object>", [[0, 0, 1000, 15.625], [15.625, 7.8125, 984.375, 492.1875]], ["cars", "cars"]),
        # Moondream: named keys on the 0-1 scale
        ("moondream2", '{"objects": [{"x_min": 0.1, "y_min": 0.2, "x_max": 0.3, "y_max": 0.4}]}', [[100, 100, 300, 200]], None),
        # token grammar wins over a JSON echo in the same answer
        ("internvl3", 'format {"bbox": [1,1,2,2]} <ref>a</ref><box>[[100,200,300,400]]</box>', [[100, 100, 300, 200]], ["a"]),
    ],
)
def test_boxes(model: str, text: str, boxes: list, labels: list | None) -> None:
    result = grounding.parse(text, model=model, image_size=(W, H))
    assert_close(result.boxes, boxes, 4)
    if labels is not None:
        assert result.labels == labels


@pytest.mark.parametrize(
    ("model", "text", "points", "labels"),
    [
        # GLM: exactly two pairs are two points
        ("glm-4.5v", "[[100,200],[300,400]]", [[100, 100], [300, 200]], None),
        # GLM GUI: scroll with a start point and extra keywords
        ("glm-4.5v", "scroll(start_box='[500,500]', direction='down', step=5)", [[500, 250]], [None]),
        # GLM GUI: double quotes, element_info before start_box
        ("glm-4.5v", 'right_click(element_info="File", start_box="[100,200]")', [[100, 100]], ["File"]),
        # Qwen2.5-VL point, resized pixels (1000x500 -> 1008x504)
        ("qwen2.5-vl", '[{"point_2d": [504, 252], "label": "p"}]', [[500, 250]], ["p"]),
        # Gemini point: y,x
        ("gemini-1.5-pro", '[{"point": [200, 100], "label": "p"}]', [[100, 100]], ["p"]),
        # Molmo: Click action in percent
        ("molmo-7b-d", "Click(50, 50)", [[500, 250]], [None]),
        # Molmo: point tag without alt takes the inner text
        ("molmo", '<point x="10" y="20">a mug</point>', [[100, 100]], ["a mug"]),
        # Moondream points
        ("moondream", '{"points": [{"x": 0.5, "y": 0.5}]}', [[500, 250]], None),
        # point clipped into the image
        ("glm-4.5v", "[[1500, -20]]", [[1000, 0]], None),
    ],
)
def test_points(model: str, text: str, points: list, labels: list | None) -> None:
    result = grounding.parse(text, model=model, image_size=(W, H))
    assert_close(result.points, points, 2)
    if labels is not None:
        assert result.point_labels == labels


@pytest.mark.parametrize(
    ("model", "text", "polygon"),
    [
        # a flat group of 6 numbers
        ("glm-4.5v", "[100,200,300,200,200,400]", [[100, 100], [300, 100], [200, 200]]),
        # JSON polygon key
        ("glm-4.5v", '{"polygon": [[100,200],[300,200],[200,400]], "label": "p"}', [[100, 100], [300, 100], [200, 200]]),
        # Florence-2 quad (8 bins)
        ("florence-2", "sign<loc_99><loc_199><loc_299><loc_199><loc_299><loc_399><loc_99><loc_399>", [[99.5, 99.75], [299.5, 99.75], [299.5, 199.75], [99.5, 199.75]]),
    ],
)
def test_polygons(model: str, text: str, polygon: list) -> None:
    result = grounding.parse(text, model=model, image_size=(W, H))
    assert len(result.polygons) == 1
    assert_close(result.polygons[0], polygon, 2)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # unclosed think: no answer
        ("<think>[[1,2,3,4]]", "stopped inside <think>"),
        # a group of five numbers
        ("[[1,2,3,4,5]]", "group of 5 numbers"),
        # corners given bottom-right first
        ("[[300,400,100,200]]", "sorted the corners"),
        # duplicates from a restated answer
        ("[[1,2,3,4]] [[1,2,3,4]]", "duplicate box"),
        # a fractional group under a 0-1000 profile
        ("[0.1, 0.2, 0.3, 0.4]", "0-1 scale"),
        # an end marker never came
        ("<|begin_of_box|>[[1,2,3,4]]", "no end marker"),
        # DeepSeek span broken by the next ref
        ("<|ref|>a<|/ref|><|det|>[[1, <|ref|>b<|/ref|><|det|>[[1,2,3,4]]<|/det|>", "unfinished <|det|>"),
    ],
)
def test_repairs_are_recorded(text: str, fragment: str) -> None:
    result = grounding.parse(text, model="glm-4.5v", image_size=(W, H))
    assert any(fragment in w for w in result.warnings), result.warnings


def test_unknown_model_falls_back_to_glm_with_a_warning() -> None:
    result = grounding.parse("[[100,200,300,400]]", model="mystery-vlm-9000", image_size=(W, H))
    assert_close(result.boxes, [[100, 100, 300, 200]], 4)
    assert any("unknown model 'mystery-vlm-9000'" in w for w in result.warnings)


def test_qwen25_input_size_overrides_smart_resize() -> None:
    result = grounding.parse(
        '{"bbox_2d": [0, 0, 500, 250]}', model="qwen2.5-vl", image_size=(W, H), input_size=(500, 250)
    )
    assert_close(result.boxes, [[0, 0, 1000, 500]], 4)


def test_labels_keep_order_across_spans() -> None:
    text = (
        '<|begin_of_box|>[{"label": "a", "bbox_2d": [1,1,2,2]}]<|end_of_box|> and '
        '<|begin_of_box|>[{"label": "b", "bbox_2d": [3,3,4,4]}]<|end_of_box|>'
    )
    assert grounding.parse(text, image_size=(W, H)).labels == ["a", "b"]


@pytest.mark.parametrize(
    "kwargs",
    [
        # zero width
        {"image_size": (0, 100)},
        # negative height
        {"image_size": (100, -1)},
        # not a pair
        {"image_size": (100,)},
        # not numbers
        {"image_size": ("a", "b")},
        # bad input size
        {"image_size": (100, 100), "input_size": (0, 0)},
    ],
)
def test_caller_errors_raise_value_error(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        grounding.parse("[[1,2,3,4]]", **kwargs)


def test_none_text_is_an_empty_result_with_a_warning() -> None:
    result = grounding.parse(None, image_size=(W, H))
    assert result.is_empty and result.warnings
