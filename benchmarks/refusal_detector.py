"""Benchmark: the refusal detector on held-out sources (patterns alone, classifier alone, combined).

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/refusal_detector.py --completions DIR [--skip-loso]``

Held-out sources are outputs of models that played no part in training: XSTest v2's human-labelled
completions of five chat models (github.com/paul-rottger/exaggerated-safety, CC BY 4.0, files
``model_completions/xstest_v2_completions_{gpt4,llama2new,llama2orig,mistralguard,mistralinstruct}.csv``).
They are not in this repository; pass the folder holding your copy. ``final_label`` "2_full_refusal"
and "3_partial_refusal" count as refusals (partial refusals included, as the target demands),
"1_full_compliance" as compliance. Nothing here fits anything on them.

Also printed: the bundled-model hand-labelled fixture (part of the classifier's training set, so its
classifier figures are in-sample) and leave-one-style-out on the built corpus (each style predicted by
a classifier retrained without it: how well the learned part transfers to a phrasing style it never saw).

For every source: n, refusals, partial refusals, and precision / recall / F1 / partial-refusal recall of
(a) the patterns (:func:`tuneloop.evaluate.refusal.detect_refusal_patterns`), (b) the classifier alone
(P(refused) >= 0.5) and (c) the combination (:func:`tuneloop.evaluate.refusal_learned.detect_refusals`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "redteam" / "fixtures" / "refusal_labelled.jsonl"
METHODS = ("patterns", "classifier", "combined")


@dataclass(frozen=True)
class Labelled:
    text: str
    refused: bool
    partial: bool


def read_xstest(folder: Path) -> dict[str, list[Labelled]]:
    """Every ``xstest_v2_completions_*.csv`` in ``folder``, by model name."""
    csv.field_size_limit(10_000_000)
    sources: dict[str, list[Labelled]] = {}
    for path in sorted(folder.glob("xstest_v2_completions_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        items = []
        for row in rows:
            label = (row.get("final_label") or "").strip()
            if not label or label[0] not in "123":
                continue  # unlabelled rows cannot be scored
            items.append(Labelled(row.get("completion") or "", label[0] in "23", label[0] == "3"))
        sources["xstest/" + path.stem.removeprefix("xstest_v2_completions_")] = items
    return sources


def read_fixture() -> list[Labelled]:
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Labelled(r["output"], r["label"] == "refused", False) for r in rows]


def quality(predicted: list[bool], items: list[Labelled]) -> dict[str, float | int | None]:
    actual = [i.refused for i in items]
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    fp = sum(p and not a for p, a in zip(predicted, actual, strict=True))
    fn = sum(a and not p for p, a in zip(predicted, actual, strict=True))
    partial = [p for p, i in zip(predicted, items, strict=True) if i.partial]
    precision = tp / (tp + fp) if tp + fp else None  # a source with no refusals: read FP instead
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "partial_recall": sum(partial) / len(partial) if partial else None,
        "false_positives": fp,
    }


def predictions(items: list[Labelled]) -> dict[str, list[bool]]:
    """Verdicts of the three methods on ``items`` (one embedding pass, shared by classifier and combination)."""
    from tuneloop.evaluate.refusal import detect_refusal_patterns
    from tuneloop.evaluate.refusal_learned import combine, learned_refusal_scores, learned_status

    texts = [i.text for i in items]
    patterns = [detect_refusal_patterns(t) for t in texts]
    scores = learned_refusal_scores(texts)
    if not scores:
        raise SystemExit(f"classifier unavailable: {learned_status()[1]}")
    combined = [
        combine(p, s).refused if t.strip() else p.refused
        for p, s, t in zip(patterns, scores, texts, strict=True)
    ]
    return {
        "patterns": [p.refused for p in patterns],
        "classifier": [s >= 0.5 for s in scores],
        "combined": combined,
    }


def fmt(value: float | int | None) -> str:
    return "  -  " if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def print_table(title: str, results: dict[str, dict[str, object]]) -> None:
    print(f"\n{title}")
    print(
        f"{'source':<26}{'n':>5}{'ref':>5}{'part':>5}  "
        + "  ".join(f"{m + ' P/R/F1/partR/FP':<31}" for m in METHODS)
    )
    for source, r in results.items():
        cells = []
        for m in METHODS:
            q = r[m]
            assert isinstance(q, dict)
            cell = f"{fmt(q['precision'])}/{fmt(q['recall'])}/{fmt(q['f1'])}/{fmt(q['partial_recall'])}/{q['false_positives']}"
            cells.append(cell.ljust(31))
        print(f"{source:<26}{r['n']:>5}{r['refusals']:>5}{r['partial']:>5}  " + "  ".join(cells))
    print(
        "(P precision, R recall, partR recall on partial refusals, FP compliant answers flagged; '-': undefined)"
    )


def evaluate(sources: dict[str, list[Labelled]]) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    pooled_items: list[Labelled] = []
    pooled: dict[str, list[bool]] = {m: [] for m in METHODS}
    for name, items in sources.items():
        preds = predictions(items)
        results[name] = {
            "n": len(items),
            "refusals": sum(i.refused for i in items),
            "partial": sum(i.partial for i in items),
        }
        results[name].update({m: quality(preds[m], items) for m in METHODS})
        pooled_items += items
        for m in METHODS:
            pooled[m] += preds[m]
    if len(sources) > 1:
        results["all"] = {
            "n": len(pooled_items),
            "refusals": sum(i.refused for i in pooled_items),
            "partial": sum(i.partial for i in pooled_items),
        }
        results["all"].update({m: quality(pooled[m], pooled_items) for m in METHODS})
    return results


def leave_one_style_out(cache: Path | None) -> dict[str, dict[str, object]]:
    """Per corpus style: the three methods, the classifier retrained without that style each time."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "scripts"))
    from train_refusal_classifier import ANCHOR, EMBEDDER, leave_one_group_out, training_set  # type: ignore[import-not-found]

    from tuneloop.data.embeddings import embed
    from tuneloop.evaluate.refusal import detect_refusal_patterns
    from tuneloop.evaluate.refusal_learned import combine, load_classifier

    meta = load_classifier().meta
    texts, y, groups, w, description = training_set(float(meta["training_set"]["fixture"]["weight"]))
    key = f"{description['digest']}|{EMBEDDER}"
    if cache and cache.exists() and str(np.load(cache)["digest"]) == key:
        x = np.load(cache)["x"]
    else:
        x = embed(texts)
        if cache:
            np.savez(cache, x=x, digest=key)
    probs = leave_one_group_out(x, y, w, groups, float(meta["C"]))
    patterns = [detect_refusal_patterns(t) for t in texts]
    results: dict[str, dict[str, object]] = {}
    for group in sorted(set(groups) - {ANCHOR}):  # the fixture is never held out; it is reported separately
        idx = [i for i, g in enumerate(groups) if g == group]
        items = [Labelled(texts[i], bool(y[i]), False) for i in idx]
        results[group] = {"n": len(idx), "refusals": int(sum(y[i] for i in idx)), "partial": 0}
        results[group]["patterns"] = quality([patterns[i].refused for i in idx], items)
        results[group]["classifier"] = quality([bool(probs[i] >= 0.5) for i in idx], items)
        results[group]["combined"] = quality(
            [combine(patterns[i], float(probs[i])).refused for i in idx], items
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--completions", type=Path, help="folder with XSTest v2 xstest_v2_completions_*.csv files"
    )
    parser.add_argument(
        "--skip-loso", action="store_true", help="skip leave-one-style-out on the corpus (slow: embeds it)"
    )
    parser.add_argument(
        "--cache", type=Path, help="npz file caching the corpus embeddings for leave-one-style-out"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()

    report: dict[str, object] = {}
    if args.completions:
        sources = read_xstest(args.completions)
        if not sources:
            raise SystemExit(f"no xstest_v2_completions_*.csv in {args.completions}")
        report["held_out"] = evaluate(sources)
        print_table("Held-out sources (XSTest v2 completions; refusals = full + partial)", report["held_out"])  # type: ignore[arg-type]
    report["bundled_fixture"] = evaluate({"bundled-model fixture": read_fixture()})
    print_table(
        "Bundled-model fixture (classifier in-sample: the fixture is in its training set)",
        report["bundled_fixture"],
    )  # type: ignore[arg-type]
    if not args.skip_loso:
        report["leave_one_style_out"] = leave_one_style_out(args.cache)
        print_table(
            "Leave-one-style-out on the built corpus (classifier retrained without the style)",
            report["leave_one_style_out"],
        )  # type: ignore[arg-type]
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
