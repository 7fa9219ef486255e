"""Benchmark: ``data check`` on 100,000 chat examples against a plain datasketch MinHashLSH baseline.

Run: ``.venv/bin/python benchmarks/data_check.py [--records 100000] [--skip-baseline]``

Generates 100,000 two-turn chat examples of about 200 tokens each (a Zipf-distributed synthetic
vocabulary, 3% exact and 3% near duplicates planted), then times, in one process:

1. tuneloop: ``check_dataset`` without embeddings and without a tokenizer: read and validate every
   line, exact + near duplicates (MinHash LSH confirmed by exact Jaccard), conflicts (a second MinHash
   pass over prompts), lexical diversity, balance, PII/secret scan, the report. Per-stage times are
   printed too.
2. baseline: near duplicates the way datasketch's README does it: one ``MinHash`` per text fed the same
   word 3-gram shingles with ``update_batch``, inserted into a ``MinHashLSH(threshold=0.8)``, then
   queried for every text. This is the near-duplicate step only (no validation, no other checks).

It prints both times and their ratio, and checks that both find the planted near duplicates.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_dataset(path: Path, count: int, seed: int = 0) -> dict[str, int]:
    """Write ``count`` examples; returns how many exact and near duplicates were planted."""
    rng = random.Random(seed)
    vocab = [
        f"{a}{b}{c}"
        for a in "bcdfgklmnprstvz"
        for b in "aeiou"
        for c in ["", "n", "r", "s", "ta", "lo", "mi", "ve"]
    ]
    weights = [1 / (rank + 1) for rank in range(len(vocab))]  # Zipf: a few words are very common

    def text(words: int) -> str:
        """Sentences of Zipf-distributed words, capitalised and punctuated, with some numbers in them."""
        out, left = [], words
        while left > 0:
            size = min(left, rng.randint(8, 18))
            sentence = rng.choices(vocab, weights, k=size)
            if rng.random() < 0.3:
                sentence[rng.randrange(size)] = rng.choice([f"#{rng.randint(1000, 99999)}", f"${rng.randint(5, 900)}.{rng.randint(10, 99)}",
                                                            f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}", f"{rng.randint(2, 60)}%"])  # fmt: skip
            out.append(
                sentence[0].capitalize() + " " + " ".join(sentence[1:]) + rng.choice([".", ".", "?", "!"])
            )
            left -= size
        return " ".join(out)

    rows, planted = [], {"exact": 0, "near": 0}
    categories = ["billing", "technical", "account", "shipping", "security", "other"]
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            roll = rng.random()
            if rows and roll < 0.03:
                row = rng.choice(rows)
                planted["exact"] += 1
            elif rows and roll < 0.06:
                row = json.loads(json.dumps(rng.choice(rows)))
                words = row["messages"][0]["content"].split()
                words[rng.randrange(len(words))] = "edited"
                row["messages"][0]["content"] = " ".join(words)
                planted["near"] += 1
            else:
                row = {
                    "messages": [{"role": "user", "content": text(rng.randint(55, 75))},
                                 {"role": "assistant", "content": text(rng.randint(70, 90))}],
                    "category": categories[index % len(categories)],
                }  # fmt: skip
            if len(rows) < 5000:
                rows.append(row)
            handle.write(json.dumps(row) + "\n")
    return planted


def run_tuneloop(path: Path) -> tuple[float, dict[str, float], dict]:
    from tuneloop.data import analyses, check_dataset

    stage_times: dict[str, float] = {}
    original = list(analyses.CHECKS)

    def timed(check):
        def wrapper(ctx):
            begin = time.perf_counter()
            check(ctx)
            stage_times[check.__name__] = time.perf_counter() - begin

        return wrapper

    analyses.CHECKS[:] = [timed(c) for c in original]
    try:
        begin = time.perf_counter()
        result = check_dataset(None, [path], token_stats=False, embeddings=False, register=False)
        total = time.perf_counter() - begin
    finally:
        analyses.CHECKS[:] = original
    stage_times["loading + validation + report"] = total - sum(stage_times.values())
    return total, stage_times, result.report


def run_baseline(path: Path) -> tuple[float, int]:
    """datasketch as documented: MinHash per text, MinHashLSH insert, then a query per text."""
    from datasketch import MinHash, MinHashLSH

    from tuneloop.data import load_records
    from tuneloop.data.minhash import shingles
    from tuneloop.data.text import full_text, words

    records = load_records([path])  # not timed: the baseline gets parsed records for free
    begin = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    sketches = []
    for index, record in enumerate(records):
        sketch = MinHash(num_perm=128)
        sketch.update_batch(shingles(words(full_text(record)), 3))
        sketches.append(sketch)
        lsh.insert(index, sketch)
    pairs = set()
    for index, sketch in enumerate(sketches):
        for other in lsh.query(sketch):
            if other != index:
                pairs.add((min(index, other), max(index, other)))
    return time.perf_counter() - begin, len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chat.jsonl"
        planted = make_dataset(path, args.records)
        size_mb = path.stat().st_size / 1e6
        print(
            f"dataset: {args.records:,} chat examples, {size_mb:.0f} MB, planted {planted['exact']:,} exact and {planted['near']:,} near duplicates"
        )
        print(
            f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other processes slow both sides)"
        )
        total, stages, report = run_tuneloop(path)
        dups = report["duplicates"]
        print(f"\ntuneloop data check (no embeddings, no tokenizer): {total:.1f} s")
        for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<32}{seconds:6.1f} s")
        print(
            f"  found {dups['exact']:,} exact and {dups['near']:,} near duplicates; gate {'passed' if report['gate']['passed'] else 'failed'}"
        )
        # the shared index (words, shingles, MinHash) plus the duplicate clustering = the dedup work
        near_ours = stages.get("text_index", 0.0) + stages.get("duplicates", 0.0)
        if args.skip_baseline:
            return
        baseline, pairs = run_baseline(path)
        print(
            f"\nbaseline datasketch MinHash + MinHashLSH (near duplicates only): {baseline:.1f} s, {pairs:,} candidate pairs"
        )
        print(
            f"\nratio: tuneloop's whole check is {baseline / total:.2f}x as fast as the baseline's near-duplicate step alone;"
        )
        print(
            f"       tuneloop's duplicate work (index {stages.get('text_index', 0.0):.1f} s + clustering "
            f"{stages.get('duplicates', 0.0):.1f} s = {near_ours:.1f} s, exact + near) is {baseline / near_ours:.1f}x faster"
        )
        print(f"target: whole check under 60 s -> {'met' if total < 60 else 'NOT met'} ({total:.1f} s)")


if __name__ == "__main__":
    main()
