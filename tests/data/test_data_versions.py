"""Dataset versions: content-addressed, idempotent, reloadable, addressable by id, digest or name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datahelpers import clean_rows, write_jsonl

from tuneloop.data import (
    dataset_digest,
    get_dataset_version,
    list_dataset_versions,
    load_dataset_version_records,
    load_records,
    register_dataset_version,
)
from tuneloop.errors import NotFound
from tuneloop.project import Project


def test_register_is_content_addressed_and_idempotent(project_dir: Path) -> None:
    project = Project.open()
    records = load_records([write_jsonl(project_dir / "a.jsonl", clean_rows(5))])
    first = register_dataset_version(project, records, name="a", source_files=["a.jsonl"], stats={"n": 5})
    moved = load_records([write_jsonl(project_dir / "b.jsonl", clean_rows(5))])
    again = register_dataset_version(project, moved, name="b", source_files=["b.jsonl"], stats={"n": 5})
    assert again.id == first.id and again.digest == dataset_digest(records)
    other = register_dataset_version(project, records[:3], name="a", source_files=["a.jsonl"], stats={})
    assert other.id != first.id
    assert [v.id for v in list_dataset_versions(project)] == [first.id, other.id]


def test_snapshot_reloads_the_exact_records(project_dir: Path) -> None:
    project = Project.open()
    rows = clean_rows(4)
    rows[0]["messages"].insert(0, {"role": "system", "content": "S"})
    rows[1] = {"prompt": "q", "chosen": "good", "rejected": "bad"}
    rows[2] = {"text": "raw text"}
    records = []
    for index, row in enumerate(rows):
        records += load_records([write_jsonl(project_dir / f"r{index}.jsonl", [row])])
    info = register_dataset_version(project, records, name="mixed", source_files=[], stats={})
    assert info.kind == "mixed"
    assert load_dataset_version_records(project, info) == records


def test_lookup_by_id_digest_prefix_and_name(project_dir: Path) -> None:
    project = Project.open()
    records = load_records([write_jsonl(project_dir / "a.jsonl", clean_rows(3))])
    info = register_dataset_version(project, records, name="support", source_files=[], stats={})
    assert get_dataset_version(project, str(info.id)).digest == info.digest
    assert get_dataset_version(project, info.digest[:10]).id == info.id
    assert get_dataset_version(project, "support").id == info.id
    with pytest.raises(NotFound):
        get_dataset_version(project, "nothing-like-this")


def test_list_and_show_verbs(cli, project_dir: Path) -> None:
    project = Project.open()
    records = load_records([write_jsonl(project_dir / "a.jsonl", clean_rows(3))])
    info = register_dataset_version(
        project, records, name="a", source_files=["a.jsonl"], stats={"records": 3}, gate_passed=True
    )
    listed = cli("data", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["digest"] == info.digest
    shown = cli("data", "show", info.digest[:8], "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["snapshot_path"]
    assert cli("data", "show", "nope").exit_code == 2
    assert "dataset version" in cli("data", "show", "a").stdout
