"""Parser throughput and worst-case time. Run by hand: ``python benchmarks/parse_speed.py``.

1. Parses per second on a realistic mix: short GLM answers, 8-object labelled JSON lists and
   2 kB thinking traces.
2. The inputs supervision's ``Detections.from_vlm`` also reads (Qwen2.5-VL and Gemini JSON),
   through both parsers in the same run, with the ratio (target: at least 3x).
3. Time to parse 1 MB adversarial inputs (target: each under 100 ms).

The inputs are fixtures written for this benchmark in the models' formats, not model output.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable

import grounding

SIZE = (1280, 960)


def _glm_short(i: int) -> str:
    a, b = 100 + i % 50, 200 + i % 70
    return f"\nThe bottle is at <|begin_of_box|>[[{a},{b},{a + 80},{b + 390}]]<|end_of_box|>."


def _glm_json8(i: int) -> str:
    items = [
        {"label": f"cat-{k + 1}", "bbox_2d": [100 * k + i % 7, 150, 100 * k + 90, 820 + k]}
        for k in range(8)
    ]
    return f"\nThe cats are <|begin_of_box|>{json.dumps(items)}<|end_of_box|>."


def _thinking_2k(i: int) -> str:
    drafts = " ".join(
        f"Candidate {k} may be at [[{k * 10},{k * 20},{k * 10 + 50},{k * 20 + 60}]]."
        for k in range(30)
    )
    trace = (drafts + " Let me look again at the left side of the table. ") * 2
    answer = f"<|begin_of_box|>[[{i % 900},10,950,990]]<|end_of_box|>"
    return f"<think>{trace[:2000]}</think>\nIt is {answer}"


def _qwen_json(i: int) -> str:
    items = [{"bbox_2d": [139 + k, 768 - k, 315 + k, 954], "label": f"cat{k}"} for k in range(4)]
    return "```json\n" + json.dumps(items, indent=4) + "\n```"


def _gemini_json(i: int) -> str:
    items = [{"box_2d": [543, 40 + k, 728, 200 + k], "label": f"dog{k}"} for k in range(4)]
    return "```json\n" + json.dumps(items, indent=4) + "\n```"


def rate(fn: Callable[[str], object], texts: list[str], seconds: float) -> float:
    """Calls per second over ``texts``, repeated for about ``seconds`` (best of 3 rounds)."""
    best = 0.0
    for _ in range(3):
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            for text in texts:
                fn(text)
            n += len(texts)
        best = max(best, n / (time.perf_counter() - start))
    return best


def adversarial() -> dict[str, str]:
    mb = 1_000_000
    box = "<|begin_of_box|>[[1,2,3,4]]<|end_of_box|>"
    return {
        '"[" * 10**6': "[" * mb,
        '"{" * 10**6': "{" * mb,
        "repeated begin markers": "<|begin_of_box|>" * (mb // 16),
        "repeated marker-wrapped boxes": (box * (mb // len(box) + 1))[:mb],
        "deep nesting around a box": "[" * (mb // 2) + "1,2,3,4" + "]" * (mb // 2),
        "unclosed <think> + 1 MB of boxes": "<think>" + "[[10,20,30,40]] " * (mb // 16),
        "1 MB of distinct boxes, no markers": "".join(
            f"[{i % 997},{i % 991},{i % 997 + 3},{i % 991 + 3}]" for i in range(mb // 18)
        )[:mb],
        "unterminated JSON object": '{"bbox_2d": [1, 2, 3, 4], "label": "' + "a" * mb,
        "repeated <ref><box> opens": "<ref>a</ref><box>[[1," * (mb // 20),
        "1 MB of digits and commas": "[" + "1," * (mb // 2),
        "spaces inside a group": "[1" + " " * mb + "x]",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time per throughput measurement")
    args = ap.parse_args()

    mix = (
        [_glm_short(i) for i in range(40)]
        + [_glm_json8(i) for i in range(40)]
        + [_thinking_2k(i) for i in range(40)]
    )
    ours = rate(lambda t: grounding.parse(t, model="glm-4.5v", image_size=SIZE), mix, args.seconds)
    print(f"realistic mix (GLM short / 8-object JSON / 2 kB thinking): {ours:,.0f} parses/s")

    warnings.filterwarnings("ignore")  # supervision warns once that OpenCV is absent
    import supervision as sv

    input_wh = (1288, 952)
    shared = {
        "Qwen2.5-VL JSON (4 boxes)": (
            [_qwen_json(i) for i in range(40)],
            "qwen2.5-vl",
            lambda t: sv.Detections.from_vlm(
                sv.VLM.QWEN_2_5_VL, t, input_wh=input_wh, resolution_wh=SIZE
            ),
        ),
        "Gemini 2.5 JSON (4 boxes)": (
            [_gemini_json(i) for i in range(40)],
            "gemini-2.5-flash",
            lambda t: sv.Detections.from_vlm(sv.VLM.GOOGLE_GEMINI_2_5, t, resolution_wh=SIZE),
        ),
    }
    print(f"\nshared inputs, supervision {sv.__version__} Detections.from_vlm in the same run:")
    per_call: dict[str, list[float]] = {"ours": [], "theirs": []}
    for name, (texts, model, theirs_fn) in shared.items():
        a, b = grounding.parse(texts[0], model=model, image_size=SIZE), theirs_fn(texts[0])
        assert len(a.boxes) == len(b.xyxy), "the two parsers disagree on this input"
        ours = rate(
            lambda t, m=model: grounding.parse(t, model=m, image_size=SIZE), texts, args.seconds
        )
        ours_det = rate(
            lambda t, m=model: grounding.parse(t, model=m, image_size=SIZE).to_detections(),
            texts,
            args.seconds,
        )
        theirs = rate(theirs_fn, texts, args.seconds)
        per_call["ours"].append(1 / ours)
        per_call["theirs"].append(1 / theirs)
        print(
            f"  {name}: grounding.parse {ours:,.0f}/s, parse+to_detections {ours_det:,.0f}/s, "
            f"supervision {theirs:,.0f}/s -> {ours / theirs:.1f}x ({ours_det / theirs:.1f}x "
            "with Detections)"
        )

    together = sum(per_call["theirs"]) / sum(per_call["ours"])
    print(f"  both shared inputs together (mean time per parse): {together:.1f}x")

    print("\n1 MB adversarial inputs (best of 5):")
    for name, text in adversarial().items():
        times = []
        for _ in range(5):
            start = time.perf_counter()
            result = grounding.parse(text, model="glm-4.5v", image_size=SIZE)
            times.append(time.perf_counter() - start)
        print(
            f"  {name:38s} {min(times) * 1000:7.1f} ms "
            f"(median {statistics.median(times) * 1000:.1f}), {len(result)} shapes"
        )


if __name__ == "__main__":
    main()
