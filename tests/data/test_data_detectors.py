"""Precision and recall of each detector on seeded data with known defects, and clean controls.

Acceptance: recall >= 0.95 for exact and near duplicates and for PII, and zero false positives on
clean control sets. The measured numbers are printed (``pytest -s``) and quoted in docs/data.md.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from datahelpers import (
    PII_NEGATIVES,
    PII_POSITIVES,
    chat_row,
    clean_rows,
    edit_words,
    label_rows,
    seeded_dataset,
    write_jsonl,
)

from tuneloop.config.data import ConflictSettings, ContaminationSettings, DedupSettings, SensitiveSettings
from tuneloop.data import detect_pii, detect_secrets, find_duplicates, holdout_contamination, load_records
from tuneloop.data.conflicts import find_conflicts
from tuneloop.data.minhash import jaccard, shingle_sets
from tuneloop.data.text import full_text, words

XSTEST = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "xstest" / "xstest_prompts.csv"


def _records(tmp_path: Path, rows: list[dict], name: str = "d.jsonl"):
    return load_records([write_jsonl(tmp_path / name, rows)])


def _score(found: set[int], truth: set[int]) -> tuple[float, float]:
    precision = len(found & truth) / len(found) if found else 1.0
    recall = len(found & truth) / len(truth) if truth else 1.0
    return precision, recall


def test_duplicate_detectors_precision_and_recall(tmp_path: Path) -> None:
    seeded = seeded_dataset()
    records = _records(tmp_path, seeded.rows)
    # the seeded near duplicates really are near duplicates of their sources (exact Jaccard >= 0.85)
    sets = shingle_sets([words(full_text(r)) for r in records], 3)
    report = find_duplicates(records, DedupSettings())
    exact = {m.index for c in report.clusters for m in c.members if m.kind == "exact"}
    near = {m.index for c in report.clusters for m in c.members if m.kind == "near"}
    for c in report.clusters:
        for m in c.members:
            if m.kind == "near":
                assert jaccard(sets.of(m.index), sets.of(m.duplicate_of)) >= 0.85
    exact_p, exact_r = _score(exact, seeded.exact)
    near_p, near_r = _score(near, seeded.near)
    print(
        f"\nexact duplicates: precision {exact_p:.3f} recall {exact_r:.3f}; near: precision {near_p:.3f} recall {near_r:.3f}"
    )
    assert exact_r >= 0.95 and near_r >= 0.95
    assert exact_p == 1.0 and near_p == 1.0
    # every removal names the kept representative, which is the first occurrence
    for cluster in report.clusters:
        assert all(m.index > cluster.representative for m in cluster.members)


def test_no_duplicates_in_clean_controls(tmp_path: Path) -> None:
    assert find_duplicates(_records(tmp_path, clean_rows(300, seed=11))).clusters == []
    if XSTEST.exists():  # 450 real, short, deliberately similar prompts (contrast pairs)
        rows = [chat_row(r["prompt"], "ok") for r in csv.DictReader(XSTEST.open(encoding="utf-8"))]
        report = find_duplicates(_records(tmp_path, rows, "x.jsonl"))
        assert report.near_count == 0


def test_label_conflicts_precision_and_recall(tmp_path: Path) -> None:
    rows, truth = label_rows(200)
    records = _records(tmp_path, rows)
    found = find_conflicts(records, ConflictSettings(), DedupSettings(), use_embeddings=False)
    flagged = {i for c in found for i in c.indices if i >= 200}
    precision, recall = _score(flagged, truth)
    print(f"\nlabel conflicts: precision {precision:.3f} recall {recall:.3f}")
    assert recall >= 0.95 and precision == 1.0
    assert all(c.kind == "label" for c in found)
    assert (
        find_conflicts(
            _records(tmp_path, clean_rows(200), "c.jsonl"),
            ConflictSettings(),
            DedupSettings(),
            use_embeddings=False,
        )
        == []
    )


def test_json_field_conflicts(tmp_path: Path) -> None:
    rng = random.Random(0)
    rows = clean_rows(60)
    for row in rows:
        row["messages"][1]["content"] = json.dumps(
            {"category": rng.choice(["a", "b"]), "reply": row["messages"][1]["content"]}
        )
    conflict = json.loads(json.dumps(rows[5]))
    answer = json.loads(conflict["messages"][1]["content"])
    answer["category"] = "b" if answer["category"] == "a" else "a"
    conflict["messages"][1]["content"] = json.dumps(answer)
    found = find_conflicts(
        _records(tmp_path, [*rows, conflict]), ConflictSettings(), DedupSettings(), use_embeddings=False
    )
    assert [(c.kind, c.indices) for c in found] == [("json-label", [5, 60])]


def test_free_text_conflicts_with_tfidf(tmp_path: Path) -> None:
    rows = clean_rows(40)
    agree = chat_row(rows[3]["messages"][0]["content"], rows[3]["messages"][1]["content"] + " indeed")
    disagree = chat_row(
        rows[7]["messages"][0]["content"], "a completely different answer about something else"
    )
    found = find_conflicts(
        _records(tmp_path, [*rows, agree, disagree]),
        ConflictSettings(),
        DedupSettings(),
        use_embeddings=False,
    )
    assert [(c.kind, c.indices) for c in found] == [("free-text", [7, 41])]


def _detected(text: str, kind: str) -> bool:
    return any(f.kind == kind for f in detect_pii(text) + detect_secrets(text))


def test_pii_and_secret_recall_and_zero_false_positives() -> None:
    per_kind: dict[str, list[bool]] = {}
    for text, kind in PII_POSITIVES:
        per_kind.setdefault(kind, []).append(_detected(text, kind))
    hits = [h for values in per_kind.values() for h in values]
    recall = sum(hits) / len(hits)
    print(
        "\nPII/secrets recall by kind: "
        + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(per_kind.items()))
    )
    print(f"overall recall {recall:.3f} on {len(hits)} seeded items")
    assert recall >= 0.95
    false_positives = [(t, f) for t in PII_NEGATIVES for f in detect_pii(t) + detect_secrets(t)]
    assert false_positives == []


def test_masked_spans_never_show_the_value() -> None:
    for text, _ in PII_POSITIVES:
        for finding in detect_pii(text) + detect_secrets(text):
            value = text[finding.start : finding.end]
            if len(value) > 6:
                assert value not in finding.masked, (value, finding.masked)


def test_sensitive_scan_names_file_line_and_field(tmp_path: Path) -> None:
    from tuneloop.data import load_dataset
    from tuneloop.data.sensitive import scan_rows

    rows = [
        chat_row("hi", "hello"),
        {**chat_row("mail me at ann.lee@example.com", "ok"), "notes": "key AKIAIOSFODNN7EXAMPLE"},
    ]
    loaded = load_dataset([write_jsonl(tmp_path / "s.jsonl", rows)])
    found = [(f.line, f.field, f.kind) for f in scan_rows(loaded.rows, SensitiveSettings())]
    assert found == [(2, "messages[0].content", "email"), (2, "notes", "api_key")]


def test_contamination_precision_and_recall(tmp_path: Path) -> None:
    rng = random.Random(5)
    train_rows = clean_rows(200, seed=21)
    fresh = clean_rows(240, seed=22)[200:]
    holdout_rows, truth = [], set()
    for source in rng.sample(range(200), 60):
        row = json.loads(json.dumps(train_rows[source]))
        kind = len(truth) % 3
        if kind == 1:
            row["messages"][0]["content"] = edit_words(row["messages"][0]["content"], 1, rng)
        elif kind == 2:
            row["messages"][1]["content"] = "a brand new answer to an old question"
        truth.add(len(holdout_rows))
        holdout_rows.append(row)
    holdout_rows.extend(fresh)
    train = _records(tmp_path, train_rows, "train.jsonl")
    holdout = _records(tmp_path, holdout_rows, "holdout.jsonl")
    found, overlaps = holdout_contamination(train, holdout, ContaminationSettings(), DedupSettings())
    flagged = {c.holdout_index for c in found}
    precision, recall = _score(flagged, truth)
    print(f"\nholdout contamination: precision {precision:.3f} recall {recall:.3f}")
    assert recall >= 0.95 and precision == 1.0
    assert max(overlaps[60:]) < 0.1


@pytest.mark.parametrize("kind", ["email", "card_number", "iban", "national_id", "phone", "ip_address"])
def test_every_structured_kind_is_fully_detected(kind: str) -> None:
    assert all(_detected(text, k) for text, k in PII_POSITIVES if k == kind)


def test_generated_pii_recall_and_generated_look_alikes_precision() -> None:
    from datahelpers import generated_negatives, generated_pii

    items = generated_pii()
    per_kind: dict[str, list[bool]] = {}
    for text, kind in items:
        per_kind.setdefault(kind, []).append(_detected(text, kind))
    recall = {k: sum(v) / len(v) for k, v in per_kind.items()}
    print(
        "\ngenerated PII recall: "
        + ", ".join(f"{k} {r:.3f} (n={len(per_kind[k])})" for k, r in sorted(recall.items()))
    )
    assert all(r >= 0.95 for r in recall.values()), recall
    false_positives = [(t, f.kind) for t in generated_negatives() for f in detect_pii(t) + detect_secrets(t)]
    assert false_positives == []
