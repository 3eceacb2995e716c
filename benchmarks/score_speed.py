"""Scoring speed. Run by hand: ``python benchmarks/score_speed.py``.

1. Acc@0.5 and mIoU over 1,000,000 prediction / ground-truth pairs with ``grounding.evals.iou``
   and ``score_referring``, beside a per-pair Python loop of the form common in evaluation
   scripts, interleaved round by round, CPU time, best of ``--rounds`` with the range (target:
   at least 50x faster), with equal results.
2. ``grounding score`` end to end (a new process: start-up, loading the annotations, reading
   and re-parsing every raw response, scoring) on 100,000 predictions (target: under 5 s).

Predictions are fixtures made from the ground truth with noise, not model output.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from grounding.datasets import load_samples
from grounding.datasets.synthetic import write_synthetic
from grounding.evals import iou, score_referring


def reference_loop(preds: list, gts: list) -> tuple[float, float]:
    """The per-pair form found in many evaluation scripts."""

    def compute_iou(box1: list, box2: list) -> float:
        x1, y1 = max(box1[0], box2[0]), max(box1[1], box2[1])
        x2, y2 = min(box1[2], box2[2]), min(box1[3], box2[3])
        inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        area1 = max(0.0, box1[2] - box1[0]) * max(0.0, box1[3] - box1[1])
        area2 = max(0.0, box2[2] - box2[0]) * max(0.0, box2[3] - box2[1])
        union = area1 + area2 - inter
        return inter / union if union > 0 else 0.0

    correct, total_iou = 0, 0.0
    for p, g in zip(preds, gts, strict=True):
        value = compute_iou(p, g)
        total_iou += value
        correct += value >= 0.5
    return correct / len(gts), total_iou / len(gts)


def pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 600, (n, 2))
    gt = np.hstack([xy, xy + rng.uniform(10, 300, (n, 2))])
    pred = gt + rng.normal(0, 25, (n, 4))
    return pred, gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--predictions", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    pred, gt = pairs(args.pairs)
    every = np.ones(len(gt), dtype=bool)
    pred_list, gt_list = pred.tolist(), gt.tolist()
    cpu: dict[str, list[float]] = {"loop": [], "iou": [], "score_referring": []}
    for _ in range(args.rounds):  # interleaved, CPU time: the machine is shared
        start = time.process_time()
        acc, miou = reference_loop(pred_list, gt_list)
        cpu["loop"].append(time.process_time() - start)
        start = time.process_time()
        ious = iou(pred, gt)
        acc_miou = (float(np.count_nonzero(ious >= 0.5)) / len(ious), float(ious.mean()))
        cpu["iou"].append(time.process_time() - start)
        start = time.process_time()
        ours = score_referring(pred, gt, valid=every)
        cpu["score_referring"].append(time.process_time() - start)
    assert abs(acc - ours["acc@0.5"]) < 1e-12 and abs(miou - ours["miou"]) < 1e-9
    assert abs(acc - acc_miou[0]) < 1e-12 and abs(miou - acc_miou[1]) < 1e-9
    print(f"{args.pairs:,} pairs, Acc@0.5 {acc:.4f} and mIoU {miou:.4f} in every form; "
          f"CPU, best of {args.rounds} (range), ratio of bests (per-round range):")  # fmt: skip
    loop = cpu["loop"]
    for name in ("loop", "iou", "score_referring"):
        values = cpu[name]
        best, worst = min(values) * 1000, max(values) * 1000
        line = f"  {name:16s} {best:8.1f} ms ({best:.1f}-{worst:.1f})"
        if name != "loop":
            ratios = [a / b for a, b in zip(loop, values, strict=True)]
            line += f" -> {min(loop) / min(values):.0f}x ({min(ratios):.0f}-{max(ratios):.0f}x)"
        print(line)

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "synth"
        images = int(args.predictions / 1.5) + 1000  # ~1.5 sentences per ref
        write_synthetic(root, images, seed=1, images=False)
        splits = "train,val,testA,testB"
        rng = np.random.default_rng(1)
        path = Path(folder) / "predictions.jsonl"
        count = 0
        with path.open("w") as file:
            for split in splits.split(","):
                for s in load_samples("refcoco", root, split):
                    if count == args.predictions:
                        break
                    w, h = s.size
                    box = s.boxes[0] / [w, h, w, h] * 1000 + rng.normal(0, 15, 4)
                    text = (
                        "<|begin_of_box|>[["
                        + ",".join(f"{v:.0f}" for v in box)
                        + "]]<|end_of_box|>"
                    )
                    file.write(json.dumps({"id": s.id, "response": text}) + "\n")
                    count += 1
        command = [sys.executable, "-m", "grounding", "score", str(path), "--dataset", "refcoco",
                   "--root", str(root), "--split", splits, "--json"]  # fmt: skip
        times, cpu_times = [], []
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        scored = json.loads(done.stdout)
        n = sum(v["n"] for v in scored["splits"].values())
        print(f"grounding score, {count:,} raw responses re-parsed (of {n:,} samples in 4 splits): "
              f"wall best {min(times):.2f} s, median {sorted(times)[1]:.2f} s; "
              f"CPU best {min(cpu_times):.2f} s (up to {max(cpu_times):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
