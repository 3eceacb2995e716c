"""Parser throughput and worst-case time. Run by hand: ``python benchmarks/parse_speed.py``.

1. Parses per second on a realistic mix: short GLM answers, 8-object labelled JSON lists and
   2 kB thinking traces.
2. The inputs supervision's ``Detections.from_vlm`` also reads (Qwen2.5-VL and Gemini JSON),
   through both parsers in the same run, with the ratio (target: at least 3x).
3. CPU time to parse 1 MB adversarial inputs (target: each under 100 ms), including the
   ones of issue 10 (many small Python-literal objects, NaN/Infinity JSON, 400-digit and
   megabyte-long numbers, long Florence-2/PaliGemma/Kosmos-2 token runs, full-width text),
   and 4 MB of Python-literal objects to show the growth. ``--adversarial-only`` runs just
   this part.

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


def _literals(size: int) -> str:
    one = "{'bbox_2d': (%d, %d, %d, 990), 'label': 'a'} "
    return "".join(one % (i % 900, i // 900 % 900, i % 900 + 50) for i in range(size // 40))[:size]


def adversarial() -> dict[str, str]:
    mb = 1_000_000
    box = "<|begin_of_box|>[[1,2,3,4]]<|end_of_box|>"
    big = "9" * 400
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
        "1 MB of small Python-literal objects": _literals(mb),
        "4 MB of small Python-literal objects": _literals(4 * mb),
        "1 MB of marker-wrapped Python literals": "".join(
            f"<|begin_of_box|>{{'bbox_2d': ({i % 900}, {i // 900}, {i % 900 + 9}, 999)}}"
            "<|end_of_box|>"
            for i in range(mb // 56)
        )[:mb],
        "1 MB of JSON with NaN and Infinity": "["
        + ",".join('{"bbox_2d": [NaN, 1, Infinity, 4]}' for _ in range(mb // 36))
        + "]",
        "1 MB of 400-digit Python-literal ints": "".join(
            "{'bbox_2d': (" + big + ", 1, 2, 3)} " for _ in range(mb // 425)
        ),
        "one number of 10**6 digits": "[[" + "7" * mb + ",1,2,3]]",
        "Kosmos-2 patch index of 10**6 digits": "<object><patch_index_"
        + "7" * mb
        + "><patch_index_0010></object>",
        "one Florence-2 run of 1 MB": "cat" + "<loc_500><loc_600>" * (mb // 18),
        "1 MB of PaliGemma boxes and labels": "<loc0100><loc0200><loc0300><loc0400> cat ; "
        * (mb // 47),
        "1 MB of Chinese prose": "猫在桌子上，旁边有一个杯子。" * (mb // 14),
        "1 MB of full-width box groups": "［１００，２００，３００，４００］" * (mb // 17),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time per throughput measurement")
    ap.add_argument("--adversarial-only", action="store_true", help="only the 1 MB inputs")
    args = ap.parse_args()
    if args.adversarial_only:
        _adversarial_times()
        return

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

    _adversarial_times()


def _adversarial_times() -> None:
    print("\nadversarial inputs (CPU time, best of 5, median and worst):")
    worst = ("", 0.0)
    for name, text in adversarial().items():
        times = []
        for _ in range(5):
            start = time.process_time()
            result = grounding.parse(text, model="glm-4.5v", image_size=SIZE)
            times.append(time.process_time() - start)
        best = min(times)
        if best > worst[1] and not name.startswith("4 MB"):
            worst = (name, best)
        print(
            f"  {name:40s} {len(text) / 1e6:4.1f} MB {best * 1000:7.1f} ms "
            f"(median {statistics.median(times) * 1000:.1f}, worst {max(times) * 1000:.1f}), "
            f"{len(result)} shapes"
        )
    print(f"slowest 1 MB input: {worst[0]} at {worst[1] * 1000:.1f} ms (best of 5)")


if __name__ == "__main__":
    main()
