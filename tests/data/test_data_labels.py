"""Classification data (answers are labels): recognised by the stated rule, checked for balance, rare
labels, holdout labels unseen in training and conflicting labels, never for answer diversity (issue 11)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from datahelpers import chat_row, clean_rows, vocabulary, write_jsonl

from tuneloop.config.data import DataSection, LabelSettings
from tuneloop.data import check_dataset
from tuneloop.data.labels import answers_are_labels, label_stats

QUESTIONS = ["can you {v} my {n}", "how do i {v} the {n}", "please {v} {n} for me", "what is the {n} of my {v}",
             "i need to {v} a {n}", "is it possible to {v} the {n} today", "help me {v} my {n} now"]  # fmt: skip


def intent_rows(labels: int, per_label: int, seed: int = 11) -> list[dict[str, object]]:
    """A CLINC150-like set: short questions, one intent name (1-3 words, snake_case) per answer."""
    rng, vocab = random.Random(seed), vocabulary(seed=seed)
    rows = []
    for _ in range(labels):
        name = "_".join(rng.sample(vocab, rng.randint(1, 3)))
        for _example in range(per_label):
            question = rng.choice(QUESTIONS).format(v=rng.choice(vocab), n=" ".join(rng.sample(vocab, 2)))
            rows.append(chat_row(question, name))
    return rows


def test_the_label_rule() -> None:
    rng = random.Random(0)
    rule = LabelSettings()
    intents = [f"intent_{i}" for i in range(77) for _ in range(10)]
    assert answers_are_labels(intents, rule)  # 77 labels x 10 (the routing set of the issue)
    assert answers_are_labels([f"label {i % 150}" for i in range(1500)], rule)  # CLINC150: 150 <= 20% of 1500
    assert not answers_are_labels([f"label {i % 150}" for i in range(600)], rule)  # 150 > max(50, 120)
    short_free = [f"answer number {i}" for i in range(200)]  # short but all different: not labels
    assert not answers_are_labels(short_free, rule)
    prose = [" ".join(rng.choice(["a", "b", "c"]) for _ in range(20)) for _ in range(100)]
    assert not answers_are_labels(prose, rule)
    stray = ["billing"] * 98 + ["a long free text answer that is nothing like a label at all, really"] * 2
    assert answers_are_labels(stray, rule)  # two stray answers do not change the mode
    assert not answers_are_labels(intents, LabelSettings(task="generation"))
    assert answers_are_labels(prose, LabelSettings(task="classification"))
    stats = label_stats(["b", "a", "B ", "c", "a", "b"])
    assert stats.counts == {"b": 3, "a": 2, "c": 1} and stats.imbalance_ratio == 3.0


def test_intent_set_gets_label_checks_not_diversity_alarms(cli, data_project: Path) -> None:
    rows = intent_rows(30, 10)
    rows += [
        chat_row(f"where is my {w} parcel now", "track_parcel") for w in vocabulary(seed=2)[:40]
    ]  # commonest
    rows += [chat_row(f"cancel the {w} booking", "cancel_booking") for w in vocabulary(seed=3)[:3]]  # rare
    source = rows[5]["messages"][0]["content"]  # type: ignore[index]
    rows.append(chat_row(source, "track_parcel"))  # same input, another label: a conflict
    write_jsonl(data_project / "intents.jsonl", rows)
    held = [chat_row("when will the parcel arrive", "track_parcel"), chat_row("book me a cab", "book_taxi"),
            chat_row("get me a taxi please", "book_taxi")]  # fmt: skip
    write_jsonl(data_project / "holdout.jsonl", held)
    result = cli("data", "check", "intents.jsonl", "--holdout", "holdout.jsonl", "--no-register", "--json")
    report = json.loads(result.stdout)
    found = {f["code"]: f for f in report["findings"]}
    assert "low_distinct_2" not in found and "high_compression" not in found, sorted(found)
    assert report["diversity"]["answers"]["skipped"] and report["conflicts"]["answers_are_labels"]
    assert report["labels"]["labels"] == 32 and report["labels"]["commonest"]["label"] == "track_parcel"
    assert found["label_imbalance"]["severity"] == "warning"
    assert "cancel_booking (3)" in found["rare_labels"]["message"]
    assert [i["line"] for i in found["rare_labels"]["items"]] == [341, 342, 343]
    assert (
        found["holdout_labels_unseen"]["count"] == 2
        and "book_taxi (2)" in found["holdout_labels_unseen"]["message"]
    )
    assert [i["line"] for i in found["holdout_labels_unseen"]["items"]] == [2, 3]
    assert found["conflicting_answers"]["items"][0]["line"] == 6
    assert "labels differ" in report["conflicts"]["items"][0]["reason"]
    human = cli("data", "check", "intents.jsonl", "--holdout", "holdout.jsonl", "--no-register")
    assert "rare_labels" in human.stdout and "holdout.jsonl:2" in human.stdout and "labels" in human.stdout


def test_balanced_intents_without_holdout_pass_without_label_warnings(data_project: Path) -> None:
    write_jsonl(data_project / "intents.jsonl", intent_rows(30, 10))
    result = check_dataset(None, [data_project / "intents.jsonl"], register=False, token_stats=False,
                           embeddings=False, settings=DataSection())  # fmt: skip
    codes = {f.code for f in result.findings}
    assert not codes & {"low_distinct_2", "high_compression", "label_imbalance", "rare_labels",
                        "holdout_labels_unseen", "boilerplate_answer"}, codes  # fmt: skip
    assert result.report["labels"]["imbalance_ratio"] == 1.0


def test_free_text_data_keeps_the_diversity_checks(data_project: Path) -> None:
    rows = clean_rows(120)
    for row in rows:
        row["messages"][1]["content"] = "Thank you for contacting us. We will reply within two days."  # type: ignore[index]
    write_jsonl(data_project / "same.jsonl", rows)
    result = check_dataset(None, [data_project / "same.jsonl"], register=False, token_stats=False,
                           embeddings=False, settings=DataSection())  # fmt: skip
    codes = {f.code for f in result.findings}
    assert "labels" not in result.report and "boilerplate_answer" in codes and "low_distinct_2" in codes


def test_an_intent_tag_that_is_the_label_leaves_the_minimum_to_the_label_checks(data_project: Path) -> None:
    rows = intent_rows(30, 10)
    for row in rows:
        row["intent"] = row["messages"][-1]["content"]  # type: ignore[index]  # CLINC's layout
    write_jsonl(data_project / "intents.jsonl", rows)
    settings = DataSection(tag_fields=["intent"])
    result = check_dataset(None, [data_project / "intents.jsonl"], register=False, token_stats=False,
                           embeddings=False, settings=settings)  # fmt: skip
    codes = {f.code for f in result.findings}
    # 10 per intent is under the per-category minimum (20), but the label checks own it here
    assert not codes & {"category_small", "category_too_small"}, codes
    assert result.report["volume"]["per_category_gate"].startswith("left to the label checks")
    # a tag that is not the label keeps the per-category gate
    for index, row in enumerate(rows):
        row["intent"] = f"group_{index % 40}"  # 7-8 records each
    write_jsonl(data_project / "grouped.jsonl", rows)
    grouped = check_dataset(None, [data_project / "grouped.jsonl"], register=False, token_stats=False,
                            embeddings=False, settings=settings)  # fmt: skip
    assert "category_small" in {f.code for f in grouped.findings}
