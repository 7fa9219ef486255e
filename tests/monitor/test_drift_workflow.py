"""`tuneloop monitor drift` and `monitor ingest` on a project: same-domain traffic passes, shifted
traffic drifts, three shifted windows in a row are sustained drift, every window is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.monitor.monitorhelpers import BILLING, COOKING, register_trained_version, texts, write_traffic

from tuneloop.data.problems import DataInvalid
from tuneloop.monitor.drift import drift
from tuneloop.monitor.traffic import ingest
from tuneloop.project import Project
from tuneloop.store import DriftWindowRecord, RequestLogRecord

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def project(project_dir: Path, tmp_path: Path) -> Project:
    opened = Project.open(project_dir)
    register_trained_version(opened, tmp_path)
    return opened


def _replay(project: Project, tmp_path: Path, prompts: list[str], *, hours_ago: float, name: str) -> None:
    stamp = (NOW - timedelta(hours=hours_ago)).isoformat()
    path = write_traffic(tmp_path / f"{name}.jsonl", prompts, created_at=stamp)
    ingest(project, path, model="proj@production")


def test_same_domain_traffic_does_not_drift(project: Project, tmp_path: Path) -> None:
    _replay(project, tmp_path, texts(BILLING, 60, seed=2), hours_ago=2, name="same")
    [segment] = drift(project, "proj@production", window="24h", now=NOW)
    assert segment.n_production == 60 and segment.version == "proj:1"
    assert "training data of proj:1: dataset version 1" in segment.reference
    assert segment.drift is False and segment.state.state == "stable"
    assert {t.method for t in segment.tests} == {"mmd", "domain_classifier"}
    assert segment.report_html is not None and segment.report_html.is_file()
    with project.store.session() as session:
        row = session.scalars(select(DriftWindowRecord)).one()
        assert row.drift is False and row.result["n_production"] == 60 and row.report_html_sha256


def test_shifted_traffic_drifts_names_what_is_new_and_becomes_sustained(
    project: Project, tmp_path: Path
) -> None:
    states = []
    for window in range(3):
        _replay(
            project,
            tmp_path,
            texts(COOKING, 50, seed=10 + window),
            hours_ago=window * 24 + 1,
            name=f"w{window}",
        )
    for window in reversed(range(3)):
        [segment] = drift(project, "proj@production", since=NOW - timedelta(hours=window * 24 + 2),
                          now=NOW - timedelta(hours=window * 24))  # fmt: skip
        states.append(segment.state.state)
        assert segment.drift is True and segment.deciding_test.p_value < 0.05
    assert states == ["drifting", "drifting", "sustained"]
    assert "out_of_vocabulary" in segment.moved
    assert segment.novelty is not None and segment.novelty.share > 0.8
    words = {w for cluster in segment.novelty.clusters for w in cluster.distinctive_words}
    assert words & {"oven", "pasta", "rice", "spices", "cake", "chicken", "soup", "dinner", "lentil"}


def test_a_small_window_is_not_tested_and_keeps_the_state(project: Project, tmp_path: Path) -> None:
    _replay(project, tmp_path, texts(COOKING, 5, seed=3), hours_ago=1, name="small")
    [segment] = drift(project, "proj@production", now=NOW)
    assert segment.drift is None and "too few inputs" in (segment.note or "")
    assert segment.state.windows == 0


def test_production_file_with_answers_checks_output_drift(project: Project, tmp_path: Path) -> None:
    prompts = texts(BILLING, 40, seed=4)
    refusals = ["I'm sorry, but I can't help with that."] * 40
    path = write_traffic(tmp_path / "gateway.jsonl", prompts, refusals)
    [segment] = drift(project, "proj@production", production_file=path, now=NOW)
    outputs = {d.name: d for d in segment.outputs}
    assert outputs["refusal_rate"].production == 1.0 and outputs["refusal_rate"].reference == 0.0
    assert outputs["format_valid_json"].production == 0.0
    assert {"refusal_rate", "format_valid_json"} <= set(segment.moved)
    assert segment.source == str(path)


def test_ingest_is_idempotent_and_all_or_nothing(project: Project, tmp_path: Path) -> None:
    path = write_traffic(tmp_path / "log.jsonl", texts(BILLING, 10, seed=5))
    assert ingest(project, path, model="proj@production") == (10, 0)
    assert ingest(project, path, model="proj@production") == (0, 10)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n" + '{"created_at": 5}\n'
    )
    with pytest.raises(DataInvalid) as raised:
        ingest(project, bad, model="proj@production")
    assert (
        str(raised.value.problems[0])
        == f"{bad}:2:messages: missing_key no prompt found (expected messages or prompt)"
    )
    with project.store.session() as session:
        assert len(session.scalars(select(RequestLogRecord)).all()) == 10


def test_cli_names_file_line_and_field_and_exits_1_on_drift(project: Project, tmp_path: Path, cli) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}], "created_at": "yesterday"}\n')
    result = cli("monitor", "drift", "proj@production", "--production", str(bad))
    assert (
        result.exit_code == 2 and f"{bad}:1:created_at" in result.stderr and "Traceback" not in result.stderr
    )
    shifted = write_traffic(tmp_path / "shifted.jsonl", texts(COOKING, 40, seed=6))
    result = cli("monitor", "drift", "proj@production", "--production", str(shifted), "--json")
    assert result.exit_code == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["segments"][0]["drift"] is True
    assert document["segments"][0]["tests"][0]["null"] == "permutation (200)"
    assert cli("monitor", "drift", "proj@production", "--window", "soon").exit_code == 2
