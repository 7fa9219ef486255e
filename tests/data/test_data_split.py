"""Splits: no group crosses, strata keep their shares, and no duplicate crosses after the fix."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from datahelpers import clean_rows, edit_words, write_jsonl

from tuneloop.config.data import DedupSettings
from tuneloop.data import load_records, split_dataset
from tuneloop.data.contamination import cross_split_matches


def _rows_with_groups(count: int = 300) -> list[dict]:
    rows = clean_rows(count)
    for index, row in enumerate(rows):
        row["customer"] = f"c{index // 5}"  # 60 customers, 5 tickets each
    return rows


def test_groups_never_cross_and_strata_keep_their_shares(tmp_path: Path) -> None:
    records = load_records(
        [write_jsonl(tmp_path / "d.jsonl", _rows_with_groups())], tag_fields=["category", "customer"]
    )
    result = split_dataset(records, holdout=0.2, group_by="customer", stratify_by="category")
    train_groups = {records[i].tags["customer"] for i in result.train}
    holdout_groups = {records[i].tags["customer"] for i in result.holdout}
    assert not train_groups & holdout_groups
    assert sorted(result.train + result.holdout) == list(range(len(records)))
    assert 0.12 <= len(result.holdout) / len(records) <= 0.28
    shares = Counter(records[i].tags["category"] for i in result.holdout)
    assert len(shares) == 4 and max(shares.values()) - min(shares.values()) <= 6


def test_stratified_split_handles_singleton_classes(tmp_path: Path) -> None:
    rows = clean_rows(100)
    rows[0]["category"] = "rare"
    records = load_records([write_jsonl(tmp_path / "d.jsonl", rows)])
    result = split_dataset(records, holdout=0.1, stratify_by="category")
    assert 0 in result.train
    assert len(result.holdout) == 10


def test_cross_split_duplicates_are_moved_to_train_until_none_remain(tmp_path: Path) -> None:
    rng = random.Random(0)
    rows = clean_rows(200)
    # chains of near duplicates: moving one can expose the next, so the fix must iterate
    for source in range(0, 200, 4):
        copy = json.loads(json.dumps(rows[source]))
        copy["messages"][0]["content"] = edit_words(copy["messages"][0]["content"], 1, rng)
        rows.append(copy)
        prompt_twin = json.loads(json.dumps(rows[source]))
        prompt_twin["messages"][1]["content"] = "different answer entirely"
        rows.append(prompt_twin)
    records = load_records([write_jsonl(tmp_path / "d.jsonl", rows)])
    result = split_dataset(records, holdout=0.3, seed=1)
    assert result.moved, "the random split put some duplicates across"
    train = [records[i] for i in result.train]
    holdout = [records[i] for i in result.holdout]
    assert cross_split_matches(train, holdout, DedupSettings()) == {}
    assert all(reason for _, reason in result.moved)


def test_split_cli_writes_both_files_and_refuses_to_overwrite(cli, project_dir: Path) -> None:
    source = write_jsonl(project_dir / "all.jsonl", _rows_with_groups(120))
    result = cli(
        "data",
        "split",
        str(source),
        "--holdout",
        "0.2",
        "--group-by",
        "customer",
        "--stratify-by",
        "category",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    train = [json.loads(line) for line in (project_dir / "all.train.jsonl").read_text().splitlines()]
    holdout = [json.loads(line) for line in (project_dir / "all.holdout.jsonl").read_text().splitlines()]
    assert len(train) + len(holdout) == 120 == payload["train"] + payload["holdout"]
    assert not {r["customer"] for r in train} & {r["customer"] for r in holdout}
    again = cli("data", "split", str(source), "--holdout", "0.2")
    assert again.exit_code == 2 and "output_exists" in again.stderr
    assert cli("data", "split", str(source), "--holdout", "0.2", "--force").exit_code == 0
    missing = cli("data", "split", str(source), "--group-by", "nope", "--force")
    assert missing.exit_code == 2 and "nope" in missing.stderr
