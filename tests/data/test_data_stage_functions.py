"""The data verbs' stage functions called from Python do what ``tuneloop data <verb>`` does.

``data check`` is :func:`tuneloop.data.check_data` (defaults from the project, the report stored,
the version registered); the file verbs are ``convert_files``, ``dedup_files``, ``redact_files`` and
``split_file``, whose ``to_dict()`` is the verb's ``--json`` document without ``ok``.
"""

from __future__ import annotations

import json
from pathlib import Path

from datahelpers import clean_rows, seeded_dataset, write_jsonl

import tuneloop.data as data
from tuneloop.progress import RecordingProgress
from tuneloop.project import Project


def test_check_data_registers_what_data_check_registers(cli, data_project: Path) -> None:
    write_jsonl(data_project / "train.jsonl", clean_rows(120))
    with (data_project / "tuneloop.yaml").open("a") as handle:
        handle.write("  train: [train.jsonl]\n")
    by_cli = json.loads(cli("data", "check", "--json").stdout)
    project = Project.open()
    (version,) = data.list_dataset_versions(project)
    reported = RecordingProgress()
    result = data.check_data(project, progress=reported)  # data.train by default, as the verb
    assert result.gate_passed and result.dataset_version is not None
    assert data.list_dataset_versions(project) == [data.get_dataset_version(project, str(version.id))]
    assert result.dataset_version.digest == version.digest == by_cli["dataset_version"]["digest"]
    assert result.dataset_version.stats == version.stats
    assert {k: v for k, v in result.report.items() if k != "dataset_version"} == {
        k: v for k, v in by_cli.items() if k not in ("ok", "dataset_version")
    }
    stored = json.loads(project.artifacts.get_bytes(result.dataset_version.report_json_sha256 or ""))
    assert stored["dataset"]["digest"] == version.digest
    overall = reported.tasks[0]
    assert overall.description == "data check" and overall.finished and overall.completed == overall.total


def test_file_verbs_match_their_stage_functions(cli, data_project: Path) -> None:
    write_jsonl(data_project / "dups.jsonl", seeded_dataset().rows)
    by_cli = json.loads(cli("data", "dedup", "dups.jsonl", "-o", "a.jsonl", "--json").stdout)
    done = data.dedup_files(None, [Path("dups.jsonl")], Path("b.jsonl"))
    assert {**done.to_dict(), "output": "a.jsonl", "log": "a.removed.jsonl"} == {
        k: v for k, v in by_cli.items() if k != "ok"
    }
    assert Path("a.jsonl").read_text() == Path("b.jsonl").read_text()

    by_cli = json.loads(cli("data", "split", "a.jsonl", "--holdout", "0.2", "--json").stdout)
    split = data.split_file(None, Path("b.jsonl"), holdout=0.2)
    assert {**split.to_dict(), "train_file": "a.train.jsonl", "holdout_file": "a.holdout.jsonl"} == {
        k: v for k, v in by_cli.items() if k != "ok"
    }
    assert Path("a.holdout.jsonl").read_text() == Path("b.holdout.jsonl").read_text()

    by_cli = json.loads(
        cli("data", "convert", "b.holdout.jsonl", "--to", "openai-chat", "-o", "c.jsonl", "--json").stdout
    )
    converted = data.convert_files(None, [Path("b.holdout.jsonl")], "openai-chat", Path("d.jsonl"))
    assert (
        converted.records == by_cli["records"] and Path("c.jsonl").read_text() == Path("d.jsonl").read_text()
    )
