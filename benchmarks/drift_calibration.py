"""Calibration and power of tuneloop's drift tests on real prompts (CLINC150 intents, MiniLM embeddings).

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/drift_calibration.py [--trials 200] [--quick]``

- **Calibration**: the reference is 400 prompts of 100 intents; a same-distribution window is drawn
  from the other prompts of the same intents. Over ``--trials`` windows per size, the share flagged as
  drift at a 5% level must stay near 5% (printed with its 95% Wilson interval).
- **Power**: a shifted window replaces a share of its prompts with prompts of the 50 intents the
  reference never saw (new topics arriving), or with CLINC150's out-of-scope prompts (another
  domain). The share flagged is the power at that window size and shift.

Both tests run exactly as ``tuneloop monitor drift`` runs them (200 permutations). It ends with one
JSON line for other tools.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CLINC = ROOT.parent / "shared" / "datasets" / "clinc150"

from tuneloop.data.embeddings import embed  # noqa: E402
from tuneloop.monitor.two_sample import classifier_test, mmd_test  # noqa: E402

TESTS = {"mmd": mmd_test, "domain_classifier": classifier_test}


def load(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (CLINC / name).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        prompt = next(m["content"] for m in row["messages"] if m["role"] == "user")
        rows.append((prompt, row.get("intent", "out_of_scope")))
    return rows


def wilson(successes: int, trials: int) -> tuple[float, float]:
    if trials == 0:
        return (math.nan, math.nan)
    z, p = 1.96, successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (centre - half, centre + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200, help="windows per setting for calibration")
    parser.add_argument("--power-trials", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="a small run for CI smoke tests")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.power_trials = 20, 10
    rng = random.Random(0)
    rows = load("train_10_per_intent.jsonl") + load("holdout_5_per_intent.jsonl")
    outside = load("out_of_scope_100.jsonl")
    intents = sorted({intent for _, intent in rows})
    rng.shuffle(intents)
    seen, unseen = set(intents[:100]), set(intents[100:])
    started = time.perf_counter()
    texts = [p for p, _ in rows] + [p for p, _ in outside]
    vectors = embed(texts)
    embed_s = time.perf_counter() - started
    in_scope = [i for i, (_, intent) in enumerate(rows) if intent in seen]
    new_topics = [i for i, (_, intent) in enumerate(rows) if intent in unseen]
    other_domain = list(range(len(rows), len(texts)))
    rng.shuffle(in_scope)
    reference, pool = in_scope[:400], in_scope[400:]
    sizes = [50, 100, 200] if not args.quick else [50]
    results: dict[str, object] = {
        "embed_s": round(embed_s, 1),
        "reference": len(reference),
        "calibration": {},
        "power": {},
    }
    print(
        f"{len(texts)} prompts embedded in {embed_s:.1f} s; reference {len(reference)} prompts of 100 intents"
    )
    print("\ncalibration (same distribution, level 0.05): share of windows flagged")
    for size in sizes:
        for name, test in TESTS.items():
            flagged = sum(
                test(vectors[reference], vectors[rng.sample(pool, size)], seed=trial).drift
                for trial in range(args.trials)
            )
            low, high = wilson(flagged, args.trials)
            print(
                f"  {name:18} window {size:4}: {flagged / args.trials:.3f} (95% CI {low:.3f}-{high:.3f}, {args.trials} trials)"
            )
            results["calibration"][f"{name}@{size}"] = round(flagged / args.trials, 4)  # type: ignore[index]
    print("\npower (shifted windows, level 0.05): share of windows flagged")
    for source_name, source in (("new intents", new_topics), ("out-of-scope domain", other_domain)):
        for share in (0.2, 0.5, 1.0):
            for size in sizes:
                for name, test in TESTS.items():
                    flagged = 0
                    for trial in range(args.power_trials):
                        shifted = round(size * share)
                        window = rng.sample(pool, size - shifted) + rng.sample(
                            source, min(shifted, len(source))
                        )
                        flagged += test(vectors[reference], vectors[window], seed=trial).drift
                    power = flagged / args.power_trials
                    print(f"  {source_name:19} {share:4.0%} shifted, window {size:4}, {name:18}: {power:.2f}")
                    results["power"][f"{source_name}|{share}|{size}|{name}"] = power  # type: ignore[index]
    print(json.dumps({"benchmark": "drift_calibration", **results}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
