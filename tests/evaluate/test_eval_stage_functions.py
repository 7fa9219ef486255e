"""The eval verbs' stage functions called from Python leave exactly the records the CLI verbs leave.

Each verb calls one function of ``tuneloop.evaluate`` that does the whole job (the report stored,
one result attached per candidate, per-item scores kept); a script, a server or a scheduler calling
it gets what ``tuneloop eval <verb>`` gets. Each test runs the verb, then the function with the same
arguments, and compares the rows each added to the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from evalhelpers import SUPPORT_ROWS, answer, register_two_versions
from sqlalchemy import func, select

import tuneloop.evaluate as evaluate
from tuneloop.progress import RecordingProgress
from tuneloop.project import Project
from tuneloop.registry import list_results
from tuneloop.store import EvalItemScoreRecord

TRUTH = {q: (c, p) for q, c, p in SUPPORT_ROWS}


def added_rows(project: Project, after: int) -> list[tuple[Any, ...]]:
    """The results stored after result id ``after``: what they say, with their per-item scores and
    report artifacts (ids and times aside)."""
    rows = []
    for info in list_results(project):
        if info.id <= after:
            continue
        with project.store.session() as session:
            scores = session.scalar(
                select(func.count())
                .select_from(EvalItemScoreRecord)
                .where(EvalItemScoreRecord.evaluation_id == info.id)
            )
        report = json.loads(project.artifacts.get_bytes(info.report_json_sha256 or ""))
        assert project.artifacts.get_bytes(info.report_html_sha256 or "")
        rows.append(
            (info.kind, info.model_reference, info.model_version_id, info.suite, info.passed, info.summary,
             scores, report["kind"])
        )  # fmt: skip
    return rows


def last_id(project: Project) -> int:
    return max((r.id for r in list_results(project)), default=0)


@pytest.fixture
def versions(support_project: Project, scripted_answers, lively_model_dir, lively_model_dir_2) -> Project:
    register_two_versions(support_project, lively_model_dir, lively_model_dir_2)
    scripted_answers(
        {
            "proj:1": lambda q: "nope",
            "proj:2": lambda q: answer(*TRUTH[q]),
            str(lively_model_dir_2): lambda q: "nope",
            support_project.config.model.base: lambda q: answer(*TRUTH[q]),
        }
    )
    return support_project


def test_run_records_what_eval_run_records(cli, versions: Project, tmp_path: Path) -> None:
    start = last_id(versions)
    assert cli("eval", "run", "--suite", "support", "--model", "proj:2", "--json").exit_code == 0
    by_cli = added_rows(versions, start)
    start = last_id(versions)
    reported = RecordingProgress()
    recorded = evaluate.run(versions, "support", ["proj:2"], copy_to=tmp_path / "copy", progress=reported)
    by_python = added_rows(versions, start)
    assert by_python == by_cli and [r[0] for r in by_python] == ["eval"]
    assert by_python[0][6] > 0  # per-item scores of the candidate and its baselines
    assert [e.id for e in recorded.evaluations] == [r.id for r in list_results(versions)[-1:]]
    assert json.loads((tmp_path / "copy.json").read_text())["kind"] == "eval"
    assert recorded.html_file.is_file()
    assert reported.messages == []  # the stage reports through its caller's progress, never prints


def test_gate_records_what_eval_gate_records(cli, versions: Project) -> None:
    start = last_id(versions)
    assert cli("eval", "gate", "--model", "proj:1", "--suite", "support", "--json").exit_code == 1
    by_cli = added_rows(versions, start)
    start = last_id(versions)
    outcome = evaluate.gate(versions, "proj:1", suites=["support"])
    assert added_rows(versions, start) == by_cli and [r[0] for r in by_cli] == ["gate"]
    assert (
        outcome.passed is False and outcome.failed and all(g["candidate"] == "proj:1" for g in outcome.gates)
    )


def test_baseline_records_what_eval_baseline_records(cli, versions: Project) -> None:
    start = last_id(versions)
    assert cli("eval", "baseline", "--suite", "support", "--json").exit_code == 0
    by_cli = added_rows(versions, start)
    start = last_id(versions)
    recorded = evaluate.baseline(versions, "support")
    assert added_rows(versions, start) == by_cli and [r[0] for r in by_cli] == ["fit-check"]
    assert recorded.check.already_works and recorded.evaluation.id == last_id(versions)
    assert recorded.html_file.is_file()


def test_score_records_what_eval_score_records(cli, versions: Project, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text(
        "".join(
            json.dumps({"prompt": q, "completion": answer(c, p), "reference": answer(c, p), "category": c})
            + "\n"
            for q, (c, p) in TRUTH.items()
        )
    )
    start = last_id(versions)
    assert cli("eval", "score", "--suite", "support", "--outputs", str(outputs), "--json").exit_code == 0
    by_cli = added_rows(versions, start)
    start = last_id(versions)
    scored = evaluate.score(versions, outputs, suite="support")
    assert added_rows(versions, start) == by_cli and [r[0] for r in by_cli] == ["eval-score"]
    assert scored.evaluation_ids == [last_id(versions)] and scored.passed is not False
