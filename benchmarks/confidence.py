"""Does a confidence score help? Run by hand: ``python benchmarks/confidence.py``.

A synthetic detection set (coloured shapes, :mod:`grounding.datasets.synthetic`) goes through
``grounding bench coco`` against the loopback noisy fixture detector (``tests/noisy_server.py``:
boxes jittered, sometimes wrong, swapped or extra, differing between samples, with lower token
log-probabilities on its mistakes). It is a fixture, not a model: the numbers show that the
machinery ranks and flags what it should, not how a real model is calibrated.

For each confidence source (none, logprobs, consistency with K samples) it reports COCO AP,
AP50, the expected calibration error, the precision of the boxes scored under and over the
review threshold, and the requests the run spent. Each run uses a fresh cache.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding.datasets.synthetic import write_synthetic
from grounding.evals.calibration import match_detections
from grounding.evals.score import read_predictions
from tests.noisy_server import NoisyDetector
from tests.server import ScriptedServer


def review_precision(run: Path, root: Path, threshold: float) -> tuple[float, float, int, int]:
    """Precision of the boxes scored below and at/above ``threshold``, and their counts."""
    coco = json.loads((root / "instances.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    truth: dict[str, tuple[list[list[float]], list[str]]] = {}
    for image in coco["images"]:
        anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        truth[str(image["id"])] = (
            [
                [
                    a["bbox"][0],
                    a["bbox"][1],
                    a["bbox"][0] + a["bbox"][2],
                    a["bbox"][1] + a["bbox"][3],
                ]
                for a in anns
            ],
            [names[a["category_id"]] for a in anns],
        )
    rows, _ = read_predictions(run / "predictions.jsonl")
    low, high = [], []
    for image_id, row in rows.items():
        boxes = row.get("parsed", {}).get("boxes", [])
        if not boxes or image_id not in truth:
            continue
        scores = [b.get("confidence", float("nan")) for b in boxes]
        flags = match_detections(
            [b["xyxy"] for b in boxes], [b["label"] for b in boxes], scores, *truth[image_id]
        )
        for score, ok in zip(scores, flags, strict=True):
            (low if score < threshold else high).append(bool(ok))

    def share(values: list[bool]) -> float:
        return sum(values) / len(values) if values else float("nan")

    return share(low), share(high), len(low), len(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="images (default 200)")
    parser.add_argument("--samples", type=int, default=5, help="K for consistency (default 5)")
    parser.add_argument("--review-below", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        root = write_synthetic(tmp / "synth", n=args.n, seed=args.seed)
        print(f"{args.n} synthetic images, noisy fixture detector (seed {args.seed})")
        print(
            f"{'confidence':<14}{'AP':>7}{'AP50':>7}{'ECE':>7}"
            f"{'prec<thr':>10}{'prec>=thr':>11}{'n<thr':>7}{'requests':>10}"
        )
        for method in ("none", "logprobs", "consistency"):
            with ScriptedServer(NoisyDetector(seed=args.seed)) as server:
                run = tmp / f"run-{method}"
                env = {**os.environ, "GROUNDING_CACHE_DIR": str(tmp / f"cache-{method}")}
                command = [
                    sys.executable,
                    "-m",
                    "grounding",
                    "bench",
                    "coco",
                    "--root",
                    str(root),
                    "-s",
                    "val",
                    "-o",
                    str(run),
                    "--provider",
                    "openai",
                    "--base-url",
                    server.url,
                    "-m",
                    "glm-4.5v",
                    "-k",
                    "8",
                    "--confidence",
                    method,
                    "--samples",
                    str(args.samples),
                ]
                subprocess.run(command, check=True, capture_output=True, env=env)
                metrics = json.loads((run / "metrics.json").read_text())["splits"]["val"]
                low, high, n_low, _ = review_precision(run, root, args.review_below)
                ece = metrics.get("ECE", float("nan"))
                print(
                    f"{method:<14}{metrics['AP'] * 100:7.1f}{metrics['AP50'] * 100:7.1f}"
                    f"{ece:7.3f}{low:10.2f}{high:11.2f}{n_low:7d}{len(server.chat_requests):10d}"
                )


if __name__ == "__main__":
    main()
