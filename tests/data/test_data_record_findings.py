"""``data check`` findings tied to single records: a missing user turn, a runaway answer, every
finding's ``file:line`` on the terminal, and corpus figures one outlier cannot decide (issue 11)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from datahelpers import chat_row, clean_rows, write_jsonl

from tuneloop.config.data import DataSection
from tuneloop.data import check_dataset
from tuneloop.data.commands_render import locations
from tuneloop.data.diversity import lexical_diversity
from tuneloop.data.repetition import repeated_share
from tuneloop.data.text import words
from tuneloop.findings import MAX_ITEMS

SYSTEM = {"role": "system", "content": "You are a happy assistant that puts a positive spin on everything."}


def cookbook_like_rows() -> list[dict[str, object]]:
    """Five conversations shaped like OpenAI's toy_chat_fine_tuning.jsonl: line 4 has no user message,
    line 5 answers "Eat a banana!" about 2,000 times."""

    def turn(role: str, content: str) -> dict[str, str]:
        return {"role": role, "content": content}

    return [
        {"messages": [SYSTEM, turn("user", "I fell off my bike today."),
                      turn("assistant", "It's great that you're getting exercise outdoors!")]},
        {"messages": [SYSTEM, turn("user", "I lost my tennis match today."), turn("assistant", "It's ok, it happens to everyone."),
                      turn("user", "But I trained so hard!"), turn("assistant", "It will pay off next time."),
                      turn("user", "I'm going to switch to golf."), turn("assistant", "Golf is fun too!")]},
        {"messages": [SYSTEM, turn("user", "I lost my book today."),
                      turn("assistant", "You can read everything on ebooks these days!")]},
        {"messages": [SYSTEM, turn("assistant", "You're great!")]},
        {"messages": [SYSTEM, turn("user", "I'm hungry."), turn("assistant", " ".join(["Eat a banana!"] * 2000))]},
    ]  # fmt: skip


def test_cookbook_file_reports_both_problems_with_their_lines(
    cli, data_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneloop.console import console

    monkeypatch.setattr(console, "_width", 400)  # one finding per line, so lines are not folded
    write_jsonl(data_project / "toy.jsonl", cookbook_like_rows())
    report = json.loads(cli("data", "check", "toy.jsonl", "--no-register", "--json").stdout)
    found = {f["code"]: f for f in report["findings"]}
    assert found["no_user_turn"]["severity"] == "warning"
    assert [(i["file"], i["line"]) for i in found["no_user_turn"]["items"]] == [("toy.jsonl", 4)]
    assert [i["line"] for i in found["repetitive_answer"]["items"]] == [5]
    assert report["repetition"]["items"][0]["repeated_share"] > 0.99
    # one runaway line may not make the corpus "repeat itself"
    assert "low_distinct_2" not in found and "high_compression" not in found
    assert report["diversity"]["excluded_records"] == 1
    human = cli("data", "check", "toy.jsonl", "--no-register")
    assert human.exit_code == 1  # 5 examples: the volume gate fails
    lines = human.stdout.splitlines()
    for code, where in (("no_user_turn", "toy.jsonl:4"), ("repetitive_answer", "toy.jsonl:5"),
                        ("over_max_length", "toy.jsonl:5")):  # fmt: skip
        row = next(i for i, line in enumerate(lines) if code in line)
        assert f"at {where}" in lines[row + 1], (code, lines[row : row + 2])


def test_repeated_share_separates_loops_from_prose() -> None:
    prose = words(" ".join(str(row["messages"][1]["content"]) for row in clean_rows(20)))  # type: ignore[index]
    assert repeated_share(prose, 4) < 0.05
    assert repeated_share(words("Eat a banana! " * 2000), 4) > 0.99
    once = prose[:200]
    assert 0.45 < repeated_share(once + once, 4) <= 0.5  # pasted twice: half the words repeat
    assert repeated_share(words("a b c"), 4) == 0.0


def test_runaway_answer_in_a_clean_set_is_named_and_does_not_decide_diversity(data_project: Path) -> None:
    rows = clean_rows(120)
    rows.append(chat_row("Tell me about loops.", "I will say it again. " * 800))
    write_jsonl(data_project / "d.jsonl", rows)
    result = check_dataset(None, [data_project / "d.jsonl"], register=False, token_stats=False,
                           embeddings=False, settings=DataSection())  # fmt: skip
    codes = {f.code: f for f in result.findings}
    assert [i["line"] for i in codes["repetitive_answer"].items] == [121]
    assert "low_distinct_2" not in codes and "high_compression" not in codes
    assert "no_user_turn" not in codes


def test_one_long_record_cannot_decide_the_corpus_figures() -> None:
    """A long record of a few words in random order (no loop, so not excluded) is capped in the sample."""
    rng = random.Random(5)
    answers = [str(row["messages"][1]["content"]) for row in clean_rows(100)]  # type: ignore[index]
    babble = " ".join(rng.choice(["yes", "no", "maybe", "ok"]) for _ in range(30_000))
    capped = lexical_diversity([*answers, babble], per_text=100)
    assert capped["distinct_2"] > 0.9 and capped["compression_ratio"] < 3.0
    uncapped = lexical_diversity([*answers, babble])
    assert uncapped["distinct_2"] < 0.25 and uncapped["compression_ratio"] > 3.0


def test_every_finding_tied_to_records_names_its_locations() -> None:
    items = [{"file": "a.jsonl", "line": n} for n in range(1, 8)]
    finding = {"message": "7 examples exceed 2048 tokens", "count": 7, "items": items}
    assert locations(finding) == "at a.jsonl:1, a.jsonl:2, a.jsonl:3 (+4 more)"
    assert locations({**finding, "items": items[:2], "count": 2}) == "at a.jsonl:1, a.jsonl:2"
    capped = {**finding, "count": 400, "items": [{"file": "a.jsonl", "line": n} for n in range(MAX_ITEMS)]}
    assert locations(capped).endswith("(+397 more)")
    # a loading warning already starts with its location; findings without records have none
    assert locations({"message": "a.jsonl:3: blank line", "items": [{"file": "a.jsonl", "line": 3}]}) == ""
    assert locations({"message": "5 examples", "count": None, "items": []}) == ""


def test_every_record_finding_of_the_check_carries_file_and_line(data_project: Path) -> None:
    """Each record-level finding the check produces on a file with many defects lists file:line items."""
    rows = clean_rows(60)
    rows[3]["messages"][0]["content"] += " mail me at ann.lee@example.com"  # type: ignore[index]
    rows.append(rows[10])  # an exact duplicate
    rows.append({"messages": [{"role": "assistant", "content": "Hello there."}]})
    rows.append(chat_row("Loop please.", "round and round we go " * 600))
    prompts = [str(row["messages"][0]["content"]) for row in clean_rows(20, seed=9)]  # type: ignore[index]
    rows += [chat_row(p, "I'm sorry, but I can't help with that.") for p in prompts]  # refusals, one text
    write_jsonl(data_project / "d.jsonl", rows)
    result = check_dataset(None, [data_project / "d.jsonl"], register=False, embeddings=False,
                           settings=DataSection(), max_length=256)  # fmt: skip
    by_code = {f.code: f for f in result.findings}
    codes = ("pii_found", "duplicates", "no_user_turn", "repetitive_answer", "over_max_length", "many_refusals",
             "boilerplate_answer")  # fmt: skip
    for code in codes:
        assert code in by_code, sorted(by_code)
        assert locations(by_code[code].to_dict()).startswith("at d.jsonl:"), code
    assert locations(by_code["many_refusals"].to_dict()) == "at d.jsonl:64, d.jsonl:65, d.jsonl:66 (+17 more)"
