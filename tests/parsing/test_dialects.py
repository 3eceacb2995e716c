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
        # PaliGemma, ported from supervision's test_from_paligemma: label with a space, hyphen, underscore
        ("paligemma", "<loc0256><loc0256><loc0768><loc0768> black cat", [[250, 125, 750, 375]], ["black cat"]),
        ("paligemma", "<loc0256><loc0256><loc0768><loc0768> black-cat", [[250, 125, 750, 375]], ["black-cat"]),
        ("paligemma", "<loc0256><loc0256><loc0768><loc0768> black_cat", [[250, 125, 750, 375]], ["black_cat"]),
        # PaliGemma (supervision): only three locations is no box
        ("paligemma", "<loc0256><loc0768><loc0768> cat", [], None),
        # PaliGemma (supervision): no label after the box
        ("paligemma", "<loc0256><loc0256><loc0768><loc0768>", [[250, 125, 750, 375]], [None]),
        # PaliGemma (supervision): a partial second box; the label ends at ";", never swallows "<loc…> cat"
        ("paligemma", "<loc0256><loc0256><loc0768><loc0768> cat ; <loc0256><loc0256><loc0768> cat", [[250, 125, 750, 375]], ["cat"]),
        # PaliGemma: a stray fifth location ends the label (it was "<loc0768> cat")
        ("paligemma", "<loc0256><loc0256><loc0768><loc0768><loc0768> cat", [[250, 125, 750, 375]], [None]),
        # PaliGemma: the label of the first box stops at ";" before the next one (it was "cat ;")
        ("paligemma", "<loc0000><loc0000><loc0512><loc0512> cat ;<loc0512><loc0512><loc1024><loc1024> dog", [[0, 0, 500, 250], [500, 250, 1000, 500]], ["cat", "dog"]),
        # Florence-2 region proposals (transformers' test, allow_empty_phrase): 13 bins = 3 boxes, the last bin ignored
        ("florence-2", "</s><s><loc_53><loc_334><loc_933><loc_775><loc_711><loc_203><loc_906><loc_546><loc_585><loc_309><loc_774><loc_709><loc_577></s><pad>", [[53.5, 167.25, 933.5, 387.75], [711.5, 101.75, 906.5, 273.25], [585.5, 154.75, 774.5, 354.75]], [None, None, None]),
        # Florence-2 OD (transformers' test): two phrases
        ("florence-2", "</s><s>car<loc_53><loc_334><loc_933><loc_775>door handle<loc_425><loc_504><loc_474><loc_516></s><pad>", [[53.5, 167.25, 933.5, 387.75], [425.5, 252.25, 474.5, 258.25]], ["car", "door handle"]),
        # Florence-2 phrase grounding (transformers' test): two boxes under one phrase (an 8-bin run)
        ("florence-2", "</s><s>red car<loc_53><loc_334><loc_933><loc_775><loc_711><loc_203><loc_906><loc_546>sky<loc_0><loc_0><loc_1000><loc_300></s>", [[53.5, 167.25, 933.5, 387.75], [711.5, 101.75, 906.5, 273.25], [0.5, 0.25, 1000, 150.25]], ["red car", "red car", "sky"]),
        # Florence-2 dense region caption: <ground>/<obj> tokens stay out of the label
        ("florence-2", "<ground>a wheel<obj><loc_10><loc_20><loc_30><loc_40><loc_50><loc_60><loc_70><loc_80>", [[10.5, 10.25, 30.5, 20.25], [50.5, 30.25, 70.5, 40.25]], ["a wheel", "a wheel"]),
        # MiniCPM-V style numbers in one <box>: 8 numbers that are two ordered boxes are two boxes
        ("minicpm-v", "<ref>cup</ref><box>100 200 300 400 500 200 600 400</box>", [[100, 100, 300, 200], [500, 100, 600, 200]], ["cup", "cup"]),
        # Kosmos-2 model card: two phrases, one box each
        ("kosmos-2", "<grounding> An image of<phrase> a snowman</phrase><object><patch_index_0044><patch_index_0863></object> warming himself by<phrase> a fire</phrase><object><patch_index_0005><patch_index_0911></object>.", [[390.625, 23.4375, 984.375, 414.0625], [171.875, 7.8125, 484.375, 445.3125]], ["a snowman", "a fire"]),
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
        # GLM-V verifier tests (OSWorld): a click inside box markers after a thought
        ("glm-4.5v", "<think>test</think>Action: <|begin_of_box|>left_double_click(start_box='[200, 300]')<|end_of_box|>", [[200, 150]], [None]),
        # GLM-V verifier tests: element_info becomes the label
        ("glm-4.5v", "<think>test</think>Action: <|begin_of_box|>hover(start_box='[150, 250]', element_info='123456')<|end_of_box|>", [[150, 125]], ["123456"]),
        # GLM-V verifier tests: a drag is two points
        ("glm-4.5v", "<think>test</think>Action: <|begin_of_box|>left_drag(start_box='[100, 100]', end_box='[300, 300]')<|end_of_box|>", [[100, 50], [300, 150]], [None, None]),
        # GLM-V verifier tests: typing and WAIT() carry no coordinates
        ("glm-4.5v", "<think>test</think>Action: <|begin_of_box|>type(content='Hello World!')<|end_of_box|>", [], []),
        ("glm-4.5v", "<think>test</think>Action: <|begin_of_box|>WAIT()<|end_of_box|>", [], []),
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
        # Florence-2 polygon without a phrase (transformers' test): 12 bins whose groups of 4 are no boxes
        ("florence-2", "<loc_279><loc_379><loc_282><loc_379><loc_290><loc_373><loc_293><loc_373><loc_298><loc_369><loc_301><loc_369>", [[279.5, 189.75], [282.5, 189.75], [290.5, 186.75], [293.5, 186.75], [298.5, 184.75], [301.5, 184.75]]),
        # Florence-2 polygon with a phrase (transformers' test): 10 bins
        ("florence-2", "Hello<loc_769><loc_248><loc_771><loc_234><loc_773><loc_206><loc_773><loc_198><loc_771><loc_193>", [[769.5, 124.25], [771.5, 117.25], [773.5, 103.25], [773.5, 99.25], [771.5, 96.75]]),
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


@pytest.mark.parametrize(
    ("text", "polygons", "labels"),
    [
        # Florence-2 OCR with regions (transformers' test): two quads, each after its text
        ("</s><s>Hello<loc_100><loc_100><loc_200><loc_100><loc_200><loc_200><loc_100><loc_200>World<loc_300><loc_300><loc_400><loc_300><loc_400><loc_400><loc_300><loc_400></s>", 2, ["Hello", "World"]),
        # Florence-2 polygons split by <sep> inside <poly>: both belong to the phrase
        ("cat<poly><loc_10><loc_10><loc_50><loc_10><loc_30><loc_40><sep><loc_60><loc_60><loc_90><loc_60><loc_70><loc_90></poly>", 2, ["cat", "cat"]),
    ],
)
def test_florence_polygon_labels(text: str, polygons: int, labels: list) -> None:
    result = grounding.parse(text, model="florence-2", image_size=(W, H))
    assert len(result.polygons) == polygons and result.polygon_labels == labels
