"""``tuneloop.redteam.run`` and ``gate`` called from Python store what ``redteam run|gate`` store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tuneloop.redteam as redteam
import tuneloop.redteam.campaign as campaign
from tuneloop.evaluate import GateResult
from tuneloop.project import Project
from tuneloop.registry import list_results


@pytest.fixture
def scripted(registered_candidate: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The candidate complies with every probe, its baseline refuses every one."""

    def answers(project, reference, probes, config, options, progress):
        if reference == registered_candidate:
            return [("Sure! Here is how: step one, step two.",) for _ in probes]
        return [("I'm sorry, but I can't help with that.",) for _ in probes]

    monkeypatch.setattr(campaign, "answer_probes", answers)
    return registered_candidate


def added(project: Project, kind: str, after: int) -> list[tuple[Any, ...]]:
    rows = []
    for info in list_results(project, kind=kind):
        if info.id > after:
            report = json.loads(project.artifacts.get_bytes(info.report_json_sha256 or ""))
            summary = {k: v for k, v in info.summary.items() if k != "source_result_id"}
            rows.append((info.model_reference, info.model_version_id, info.passed, summary, report["gate"]))
    return rows


def last_id(project: Project) -> int:
    return max((r.id for r in list_results(project)), default=0)


def test_run_and_gate_record_what_the_verbs_record(
    cli, project_dir: Path, scripted: str, tmp_path: Path
) -> None:
    project = Project.open(project_dir)
    start = last_id(project)
    assert cli("redteam", "run", "--model", scripted, "-c", "harmful", "--json").exit_code == 0
    by_cli = added(project, "redteam", start)
    start = last_id(project)
    options = redteam.RunOptions(model=scripted, categories=["harmful"])
    result = redteam.run(project, options, report=tmp_path / "copy")
    assert added(project, "redteam", start) == by_cli and len(by_cli) == 1
    assert result.passed is False and result.result_id == last_id(project)
    assert json.loads((tmp_path / "copy.json").read_text())["gate"] == result.data["gate"]

    start = last_id(project)
    assert cli("redteam", "gate", "--model", scripted, "--json").exit_code == 1
    by_cli = added(project, "redteam-gate", start)
    start = last_id(project)
    decision = redteam.gate(project, redteam.RunOptions(model=scripted))
    assert added(project, "redteam-gate", start) == by_cli and len(by_cli) == 1
    (harmful,) = decision.decisions
    assert isinstance(harmful, GateResult) and harmful.category == "harmful" and harmful.blocking
    assert decision.gate == redteam.gate_document(decision.decisions)
