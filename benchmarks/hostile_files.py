"""Crafted and wrong-shaped dataset files: time and memory to refuse each one, and the cost of
the restricted unpickler on a RefCOCO-sized pickle. Run: ``python -m benchmarks.hostile_files``.

Each crafted file (``tests/datasets/crafted.py``, generated fixtures) is loaded through
``load_samples`` in a fresh child process; the CPU time and the growth of its peak resident
memory over a baseline child that imports the same modules are reported (target: under a
second and under 100 MB each). Then a synthetic 50,000-ref pickle in the layout of
``refs(unc).p`` (about 21 MB) is read with the restricted unpickler and with Python's
unrestricted C unpickler, interleaved, best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from grounding.datasets import DatasetError, load_samples
kind, root, split = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
message = ""
if kind != "baseline":
    try:
        list(load_samples(kind, root, split))
        message = "LOADED (not refused)"
    except DatasetError as exc:
        message = str(exc)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"cpu": time.process_time() - start, "message": message, "rss_kb": rss}))
"""


def _child(kind: str, root: Path, split: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(root), split],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _refs(n: int) -> list[dict[str, object]]:
    rng = random.Random(0)
    words = ["the", "a", "man", "woman", "left", "right", "red", "cup", "dog", "on", "near"]
    refs, sent_id = [], 0
    for r in range(n):
        sentences = []
        for _ in range(3):
            tokens = [rng.choice(words) for _ in range(rng.randint(2, 9))]
            text = " ".join(tokens)
            sentences.append({"tokens": tokens, "raw": text, "sent_id": sent_id, "sent": text})
            sent_id += 1
        refs.append(
            {
                "image_id": rng.randint(1, 600_000),
                "split": rng.choice(["train", "val", "testA", "testB"]),
                "sentences": sentences,
                "file_name": f"COCO_train2014_{r:012d}_{r}.jpg",
                "category_id": rng.randint(1, 90),
                "ann_id": r * 7,
                "sent_ids": [s["sent_id"] for s in sentences],
                "ref_id": r,
            }
        )
    return refs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the refs comparison")
    args = ap.parse_args()
    from grounding.datasets.safe_pickle import safe_load
    from tests.datasets.crafted import PICKLES, WRONG_JSON, WRONG_REFS

    instances = '{"images": [], "annotations": [], "categories": []}'
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        baseline = _child("baseline", base, "val")
        rows = []
        for name, data, _ in PICKLES + WRONG_REFS:
            root = base / name
            root.mkdir()
            (root / "refs(unc).p").write_bytes(data)
            (root / "instances.json").write_text(instances)
            rows.append((f"pickle {name}", len(data), _child("refcoco", root, "val")))
        for name, kind, text, _ in WRONG_JSON:
            root = base / name
            root.mkdir()
            data = text.encode("utf-8", "surrogateescape")
            if kind == "instances":
                (root / "instances.json").write_bytes(data)
                result = _child("coco", root, "val")
            elif kind == "screenspot":
                (root / "screenspot_mobile.json").write_bytes(data)
                result = _child("screenspot", root, "mobile")
            else:
                (root / "val.jsonl").write_bytes(data)
                result = _child("refcoco", root / "val.jsonl", "val")
            rows.append((f"{kind} {name}", len(data), result))

    print(f"{'file':40s} {'bytes':>9s} {'CPU ms':>8s} {'peak RSS growth':>16s}  refused with")
    worst_cpu = worst_rss = 0.0
    base_kb = float(baseline["rss_kb"])  # type: ignore[arg-type]
    for name, size, result in rows:
        cpu = float(result["cpu"]) * 1000  # type: ignore[arg-type]
        growth = max(0.0, float(result["rss_kb"]) - base_kb) / 1024  # type: ignore[arg-type]
        worst_cpu, worst_rss = max(worst_cpu, cpu), max(worst_rss, growth)
        message = str(result["message"]).split(": ", 1)[-1][:70]
        print(f"{name:40s} {size:9,d} {cpu:8.1f} {growth:13.1f} MB  {message}")
    print(f"{len(rows)} files: slowest {worst_cpu:.0f} ms CPU, largest growth {worst_rss:.1f} MB")

    data = pickle.dumps(_refs(50_000), protocol=2)
    safe, fast = [], []
    for _ in range(args.rounds):
        start = time.process_time()
        safe_load(io.BytesIO(data))
        safe.append(time.process_time() - start)
        start = time.process_time()
        pickle.loads(data, encoding="latin1")
        fast.append(time.process_time() - start)
    print(
        f"\n50,000-ref pickle ({len(data) / 1e6:.1f} MB), CPU s, best of {args.rounds} "
        f"(median): restricted {min(safe):.2f} ({statistics.median(safe):.2f}), "
        f"C unpickler {min(fast):.2f} ({statistics.median(fast):.2f}), "
        f"ratio {min(safe) / min(fast):.1f}x"
    )


if __name__ == "__main__":
    main()
