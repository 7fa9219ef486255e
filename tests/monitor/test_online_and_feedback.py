"""`monitor evaluate` scores sampled logged answers and alerts on a real drop only; `monitor feedback`
summarises ratings and curates corrected answers (PII redacted, evaluation items dropped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.monitor.monitorhelpers import BILLING, give_feedback, log_answers, register_trained_version, texts

from tuneloop.data.versions import load_dataset_version_records
from tuneloop.monitor.feedback import curate_feedback, feedback_summary
from tuneloop.monitor.online_eval import evaluate_online
from tuneloop.project import Project
from tuneloop.store import OnlineEvaluationRecord

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GOOD = json.dumps({"category": "billing", "reply": "We refunded the duplicate charge."})
REFUSAL = "I'm sorry, but I can't help with that."


@pytest.fixture
def project(project_dir: Path, tmp_path: Path) -> Project:
    config = project_dir / "tuneloop.yaml"
    config.write_text(config.read_text().replace(
        "monitor:\n", "monitor:\n  evaluate:\n    sample_share: 1.0\n    metrics: [json_valid, refusal_rate]\n"))  # fmt: skip
    opened = Project.open(project_dir)
    opened.version = register_trained_version(opened, tmp_path)  # type: ignore[attr-defined]
    return opened


def _day(project: Project, day: int, answers: list[str]) -> list[str]:
    pairs = list(zip(texts(BILLING, len(answers), seed=day), answers, strict=True))
    return log_answers(
        project, project.version, pairs, at=NOW - timedelta(days=day, hours=-1), prefix=f"d{day}-"
    )  # type: ignore[attr-defined]


def _evaluate(project: Project, day: int):
    [result] = evaluate_online(
        project, "proj@production", window="24h", now=NOW - timedelta(days=day) + timedelta(hours=12)
    )
    return result


def test_steady_quality_raises_no_alert_and_a_real_drop_does(project: Project) -> None:
    for day in (3, 2, 1):
        _day(project, day, [GOOD] * 28 + [REFUSAL] * 2)
        result = _evaluate(project, day)
        assert result.n_scored == 30 and result.metrics["json_valid"].mean == pytest.approx(28 / 30)
        assert result.alerts == []
    _day(project, 0, [GOOD] * 15 + [REFUSAL] * 15)
    result = _evaluate(project, 0)
    alerted = {alert.metric: alert for alert in result.alerts}
    assert set(alerted) == {"json_valid", "refusal_rate"}
    assert alerted["json_valid"].baseline == pytest.approx(28 / 30) and alerted["json_valid"].current == 0.5
    assert alerted["json_valid"].p_value < 0.05 and alerted["json_valid"].baseline_windows == 3
    with project.store.session() as session:
        rows = session.scalars(select(OnlineEvaluationRecord).order_by(OnlineEvaluationRecord.id)).all()
        assert len(rows) == 4 and rows[-1].alerts and rows[-1].report_html_sha256


def test_a_small_sample_never_alerts(project: Project) -> None:
    for day in (2, 1):
        _day(project, day, [GOOD] * 25)
        _evaluate(project, day)
    _day(project, 0, [REFUSAL] * 5)
    result = _evaluate(project, 0)
    assert result.alerts == [] and "fewer than monitor.evaluate.min_samples" in (result.note or "")


def test_feedback_summary_and_curation(project: Project) -> None:
    holdout_prompt = "Why did my monthly bill go up to 120 dollars this month?"
    (project.root / "holdout.jsonl").write_text(json.dumps({"messages": [
        {"role": "user", "content": holdout_prompt}, {"role": "assistant", "content": GOOD}]}) + "\n")  # fmt: skip
    config = project.root / "tuneloop.yaml"
    config.write_text(config.read_text().replace("  holdout: []", "  holdout: [holdout.jsonl]"))
    version = project.version  # type: ignore[attr-defined]
    project = Project.open(project.root)
    pairs = [
        ("My card 4111 1111 1111 1111 was charged twice, mail me at jo.doe@example.com", "Wrong answer"),
        (holdout_prompt, "Wrong too"),
        ("Please cancel plan 42 before renewal", "No"),
    ]
    ids = log_answers(project, version, pairs, at=NOW, prefix="fb-")
    give_feedback(project, ids[0], rating=1, corrected=GOOD)
    give_feedback(project, ids[1], rating=2, corrected=GOOD)
    give_feedback(project, ids[2], rating=5)
    [row] = [s for s in feedback_summary(project, "proj") if s.model_reference == version.reference]
    assert (row.responses, row.rated, row.corrected) == (3, 3, 2) and row.mean_rating == pytest.approx(8 / 3)
    curation = curate_feedback(project, "proj")
    assert (curation.considered, curation.kept) == (2, 1)
    assert curation.dropped == {"duplicates_evaluation_item": 1} and curation.redactions >= 2
    [record] = load_dataset_version_records(project, curation.dataset_version)
    assert "jo.doe@example.com" not in record.messages[0].content and "4111" not in record.messages[0].content
    assert record.messages[-1].content == GOOD and record.source.file == f"request_log/{ids[0]}"
    assert curation.dataset_version.name == "curated-proj"


def test_cli_evaluate_and_feedback(project: Project, cli) -> None:
    ids = _day(project, 0, [GOOD] * 25)
    give_feedback(project, ids[0], rating=4)
    result = cli(
        "monitor", "evaluate", "proj@production", "--since", (NOW - timedelta(days=2)).isoformat(), "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["versions"][0]["metrics"]["json_valid"]["mean"] == 1.0
    result = cli("monitor", "feedback", "proj", "--curate", "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 0 and document["versions"][0]["rated"] == 1
    assert document["curation"]["kept"] == 0 and document["curation"]["dataset_version"] is None
    assert cli("monitor", "evaluate", "proj@production", "--since", "last week").exit_code == 2
