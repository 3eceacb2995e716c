"""Fuzz ``grounding.parse`` with grammar-built answers: ``python -m benchmarks.fuzz_parse``.

Run from the repository root. By default a million answers from ``tests/parsing/grammar.py``
(every dialect's tokens and brackets; NaN, Infinity, 5,000-digit numbers, token runs of every
length, labels with every kind of character) across every model name, split over ``--jobs``
processes. Each answer must parse without an exception or a warning leaking out, with every
coordinate finite and inside the image, boxes sorted and labels lined up. Failures go to
``--out`` as jsonl (model, image_size, text, problem); add the small, distinct ones to
``tests/data/parser-regressions.jsonl`` so they stay fixed. Exit status 1 when any failed.

    python -m benchmarks.fuzz_parse                      # 1,000,000 answers, seed 0
    python -m benchmarks.fuzz_parse -n 20000 --seed 7    # a quick look

The answers are generated fixtures, not model output.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

CHUNK = 5_000


def _check_chunk(task: tuple[int, int, int]) -> tuple[int, list[dict[str, object]], float]:
    """Parse ``count`` answers of chunk ``index``; the failures and the CPU seconds spent."""
    import grounding
    from tests.parsing.grammar import answer, violations

    seed, index, count = task
    rng = random.Random(f"{seed}-{index}")
    failures: list[dict[str, object]] = []
    start = time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # any warning that leaks out of parse is a failure
        for _ in range(count):
            model, text = answer(rng)
            size = (rng.randint(1, 8000), rng.randint(1, 8000))
            before = len(caught)
            try:
                result = grounding.parse(text, model=model, image_size=size)
                problems = violations(result, size)
            except Exception as exc:
                problems = [f"raised {type(exc).__name__}: {str(exc)[:80]}"]
            if len(caught) > before:
                problems.append(
                    f"leaked {caught[before].category.__name__}: {caught[before].message}"
                )
            if problems:
                failure = {"model": model, "image_size": list(size), "text": text}
                failures.append({**failure, "problem": problems[0]})
    return count, failures, time.process_time() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--count", type=int, default=1_000_000, help="answers to parse")
    ap.add_argument("--seed", type=int, default=0, help="seed of the generator")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    ap.add_argument("--out", type=Path, default=Path("fuzz-failures.jsonl"), help="failures")
    args = ap.parse_args()

    tasks = [
        (args.seed, i, min(CHUNK, args.count - i * CHUNK))
        for i in range((args.count + CHUNK - 1) // CHUNK)
    ]
    done, cpu, kinds = 0, 0.0, Counter[str]()
    wall = time.perf_counter()
    with args.out.open("w", encoding="utf-8") as out, multiprocessing.Pool(args.jobs) as pool:
        for count, failures, seconds in pool.imap_unordered(_check_chunk, tasks):
            done += count
            cpu += seconds
            for failure in failures:
                kinds[str(failure["problem"])] += 1
                out.write(json.dumps(failure, ensure_ascii=False) + "\n")
            print(f"\r{done:,} answers, {sum(kinds.values()):,} failures", end="", file=sys.stderr)
    print(file=sys.stderr)
    elapsed = time.perf_counter() - wall
    print(
        f"{done:,} answers in {elapsed:.0f} s wall, {cpu:.0f} s CPU "
        f"({done / cpu:,.0f} answers per CPU second), {args.jobs} processes, seed {args.seed}"
    )
    for problem, n in kinds.most_common():
        print(f"  {n:8,}  {problem}")
    print(f"failures: {sum(kinds.values()):,} (written to {args.out})")
    return 1 if kinds else 0


if __name__ == "__main__":
    sys.exit(main())
