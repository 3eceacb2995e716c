"""Parser speed and worst-case time. Run by hand: ``python benchmarks/parse_speed.py``.

1. Parses per CPU second on a realistic mix: short GLM answers, 8-object labelled JSON lists
   and 2 kB thinking traces.
2. The inputs supervision's ``Detections.from_vlm`` also reads (Qwen2.5-VL and Gemini JSON),
   through ``grounding.parse`` (alone and with ``.to_detections()``) and supervision, with the
   ratio (target: at least 3x).
3. CPU time to parse 1 MB adversarial inputs (target: each under 100 ms), including the
   ones of issue 10 (many small Python-literal objects, NaN/Infinity JSON, 400-digit and
   megabyte-long numbers, long Florence-2/PaliGemma/Kosmos-2 token runs, full-width text),
   and 4 MB of Python-literal objects to show the growth, best of 5 with the median and the
   worst. ``--adversarial-only`` runs just this part.

Parts 1 and 2 run every side in each round (``--rounds``), about ``--seconds`` of CPU each,
in eight turns taken in alternation (the order reversed every other turn); reported: CPU
time per parse as parses per CPU second, best of the rounds with the range, and ratios of
the bests with the range of the per-round ratios. CPU time, not wall time: the machine these
run on is shared.

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
SLICES = 8  # turns per side in a round


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


def cpu_per_call(fn: Callable[[str], object], texts: list[str], passes: int) -> float:
    """CPU seconds per call of ``fn`` over ``passes`` passes through ``texts``."""
    start = time.process_time()
    for _ in range(passes):
        for text in texts:
            fn(text)
    return (time.process_time() - start) / (passes * len(texts))


def passes_for(fn: Callable[[str], object], texts: list[str], seconds: float) -> int:
    """Passes through ``texts`` that take about ``seconds`` of CPU (one warm-up pass)."""
    one = cpu_per_call(fn, texts, 1) * len(texts)
    return max(1, round(seconds / max(one, 1e-6)))


def span(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


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
    ap.add_argument("--seconds", type=float, default=0.8, help="CPU seconds per side in each round")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (best of these)")
    ap.add_argument("--adversarial-only", action="store_true", help="only the 1 MB inputs")
    args = ap.parse_args()
    if args.adversarial_only:
        _adversarial_times()
        return

    warnings.filterwarnings("ignore")  # supervision warns once that OpenCV is absent
    import supervision as sv

    mix = (
        [_glm_short(i) for i in range(40)]
        + [_glm_json8(i) for i in range(40)]
        + [_thinking_2k(i) for i in range(40)]
    )
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
    # (input, side) -> (function, texts), each timed in CPU seconds: the machine is shared.
    sides: dict[tuple[str, str], tuple[Callable[[str], object], list[str]]] = {
        ("mix", "parse"): (lambda t: grounding.parse(t, model="glm-4.5v", image_size=SIZE), mix)
    }
    for name, (texts, model, theirs_fn) in shared.items():
        a, b = grounding.parse(texts[0], model=model, image_size=SIZE), theirs_fn(texts[0])
        assert len(a.boxes) == len(b.xyxy), "the two parsers disagree on this input"
        sides[(name, "parse")] = (
            lambda t, m=model: grounding.parse(t, model=m, image_size=SIZE),
            texts,
        )
        sides[(name, "parse+to_detections")] = (
            lambda t, m=model: grounding.parse(t, model=m, image_size=SIZE).to_detections(),
            texts,
        )
        sides[(name, "supervision")] = (theirs_fn, texts)
    # Each round runs every side in SLICES turns (the order reversed every other turn), so
    # that the sides compared in a round see the same load.
    passes = {
        key: passes_for(fn, texts, args.seconds / SLICES) for key, (fn, texts) in sides.items()
    }
    cpu: dict[tuple[str, str], list[float]] = {key: [] for key in sides}
    keys = list(sides)
    for _ in range(args.rounds):
        spent = dict.fromkeys(keys, 0.0)
        for turn in range(SLICES):
            for key in keys if turn % 2 == 0 else keys[::-1]:
                fn, texts = sides[key]
                spent[key] += cpu_per_call(fn, texts, passes[key])
        for key in keys:
            cpu[key].append(spent[key] / SLICES)

    mix_rates = [1 / t for t in cpu[("mix", "parse")]]
    print(f"CPU time, best of {args.rounds} (range); ratios: of the bests (per-round range)")
    print(f"realistic mix (GLM short / 8-object JSON / 2 kB thinking): "
          f"{max(mix_rates):,.0f} parses/s ({span(mix_rates)})")  # fmt: skip
    print(f"\nshared inputs, supervision {sv.__version__} Detections.from_vlm, interleaved:")
    for name in shared:
        theirs = cpu[(name, "supervision")]
        print(f"  {name}:")
        for side in ("parse", "parse+to_detections", "supervision"):
            values = cpu[(name, side)]
            rates = [1 / t for t in values]
            line = f"    {side:20s} {max(rates):8,.0f}/s ({span(rates)})"
            if side != "supervision":
                ratios = [b / a for a, b in zip(values, theirs, strict=True)]
                line += (
                    f" -> {min(theirs) / min(values):.2f}x "
                    f"({min(ratios):.2f}-{max(ratios):.2f}x) supervision's speed"
                )
            print(line)
    ours = [cpu[(name, "parse")] for name in shared]
    theirs_all = [cpu[(name, "supervision")] for name in shared]
    together = sum(min(t) for t in theirs_all) / sum(min(o) for o in ours)
    per_round = [
        sum(t[i] for t in theirs_all) / sum(o[i] for o in ours) for i in range(args.rounds)
    ]
    print(f"  both shared inputs together (mean time per parse): {together:.2f}x "
          f"({min(per_round):.2f}-{max(per_round):.2f}x)")  # fmt: skip

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
