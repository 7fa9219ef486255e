"""`monitor run`: the policy fires on OR-of-AND conditions; a dry run trains nothing and records what
it would do; a real run retrains on previous data + curated feedback, gates, promotes when configured;
two processes never retrain at once (a lock in the store, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.monitor.monitorhelpers import give_feedback, log_answers, trained_project

from tuneloop.config.monitor import RetrainPolicy
from tuneloop.monitor.lock import release, try_acquire
from tuneloop.monitor.retrain import Evidence, decide, monitor_run
from tuneloop.project import Project
from tuneloop.registry import alias_target
from tuneloop.store import RetrainDecisionRecord, Store

PROJECT = """
project: {{name: tiny, scope: {{allowed_topics: [orders, returns]}}}}
model: {{base: {model}, max_length: 256}}
data:
  train: [train.jsonl]
  embeddings: {{enabled: false}}
  volume: {{behaviour: {{fail_below: 5, warn_below: 5}}, per_category: {{fail_below: 1, warn_below: 1}}}}
train: {{max_steps: 3, tokens_per_step: 64, learning_rate: 0.003, eval_after_train: false, threads: 1}}
eval: {{forgetting_check: false, suites: [orders.yaml]}}
redteam: {{categories: [off_topic], probes_per_category: 3, max_new_tokens: 8}}
monitor:
  drift: {{min_window: 1000}}
  retrain:
    when: [[{{min_curated: 2}}]]
    promote: production
"""


def _evidence(**changes) -> Evidence:
    values = {
        "drift_states": ["stable"],
        "quality_alerts": [],
        "new_curated": [],
        "serving_age": timedelta(days=1),
    }
    return Evidence(**(values | changes))


def test_policy_fires_when_every_condition_of_one_group_holds() -> None:
    policy = RetrainPolicy(when=[["drift_sustained", {"min_curated": 2}], [{"every": "30d"}]])
    fired, conditions, groups = decide(policy, _evidence(drift_states=["sustained"], new_curated=[1]))
    assert not fired and groups == [["drift_sustained", "min_curated: 2"], ["every: 30d"]]
    assert {c.condition: c.held for c in conditions} == {
        "drift_sustained": True,
        "min_curated: 2": False,
        "every: 30d": False,
    }
    assert decide(policy, _evidence(drift_states=["sustained"], new_curated=[1, 2]))[0]
    assert decide(policy, _evidence(serving_age=timedelta(days=31)))[0]
    assert not decide(RetrainPolicy(), _evidence(drift_states=["sustained"]))[0]
    assert decide(RetrainPolicy(when=[["quality_drop"]]), _evidence(quality_alerts=["json_valid fell"]))[0]


@pytest.fixture
def served(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A trained ``tiny:1`` in production with three logged answers, two of them corrected."""
    monkeypatch.delenv("TUNELOOP_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    rows = [{"messages": [{"role": "user", "content": f"Where is order {i}?"},
                          {"role": "assistant", "content": f"Order {i} ships tomorrow."}]} for i in range(12)]  # fmt: skip
    project = trained_project(tmp_path / "proj", PROJECT.format(model=tiny_model_dir), rows, suite="orders")
    version = alias_target(project, "tiny", "production")
    pairs = [(f"Can I return item {i}?", "No.") for i in range(3)]
    from datetime import UTC, datetime

    ids = log_answers(project, version, pairs, at=datetime.now(UTC), prefix="r-")
    for request_id in ids[:2]:
        give_feedback(project, request_id, rating=1, corrected="Yes, within 30 days, with the receipt.")
    return project


def _decisions(project: Project) -> list[RetrainDecisionRecord]:
    with project.store.session() as session:
        return list(session.scalars(select(RetrainDecisionRecord).order_by(RetrainDecisionRecord.id)))


def test_dry_run_then_real_run_retrains_gates_and_promotes(served: Project) -> None:
    dry = monitor_run(served, dry_run=True)
    assert dry.fired and dry.action == "would_retrain" and dry.candidate is None
    assert [c.value for c in dry.conditions] == [2]
    assert _decisions(served)[-1].dry_run and alias_target(served, "tiny", "production").version == 1
    real = monitor_run(served)
    assert real.action == "retrain" and real.status == "completed", real.outcome
    assert real.candidate == "tiny:2" and real.outcome["gates"]["redteam"]["passed"] is True
    assert real.outcome["promoted"] is True, real.outcome["promotion"]
    assert alias_target(served, "tiny", "production").version == 2
    record = _decisions(served)[-1]
    assert record.status == "completed" and record.candidate_version_id is not None and record.finished_at
    from tuneloop.data.versions import get_dataset_version, load_dataset_version_records

    dataset = get_dataset_version(served, str(real.dataset_version_id))
    assert dataset.name == f"retrain-tiny-{real.decision_id}" and dataset.gate_passed is True
    assert dataset.report_json_sha256 and real.outcome["dataset"]["gate_passed"] is True
    assert dataset.source_files == real.outcome["dataset"]["from"]
    assert dataset.source_files[0].startswith("dataset 1 (") and "2 curated" in dataset.source_files[1]
    records = load_dataset_version_records(served, dataset)
    assert len(records) == 12  # 10 earlier examples + 2 curated corrections
    assert {r.source.file for r in records} >= {"request_log/chatcmpl-r-0", "request_log/chatcmpl-r-1"}
    again = monitor_run(served)  # the corrections are now in tiny:2's training data
    assert again.action == "none" and again.conditions[0].value == 0


def test_curated_data_that_fails_the_data_gate_stops_the_retraining(served: Project, caplog) -> None:
    from tests.monitor.monitorhelpers import give_feedback

    from tuneloop.errors import CheckFailed
    from tuneloop.train import list_runs

    config = served.root / "tuneloop.yaml"
    config.write_text(config.read_text().replace("embeddings: {enabled: false}",
                                                 "embeddings: {enabled: false}\n  overlength: fail"))  # fmt: skip
    project = Project.open(served.root)
    rambling = " ".join(f"step {i}: keep the receipt and the box." for i in range(120))
    give_feedback(project, "chatcmpl-r-2", rating=1, corrected=rambling)
    runs_before = len(list_runs(project))
    with pytest.raises(CheckFailed, match="failed the data gate: tokens: 1 example exceeds 256 tokens"):
        monitor_run(project)
    record = _decisions(project)[-1]
    assert record.status == "failed" and record.candidate_version_id is None
    assert record.outcome["dataset"]["gate_passed"] is False and record.dataset_version_id is not None
    assert len(list_runs(project)) == runs_before  # nothing was trained on data that failed its gate
    assert alias_target(project, "tiny", "production").version == 1
    assert "retrain_failed" in caplog.text


def test_a_held_lock_stops_a_second_retraining(served: Project) -> None:
    assert try_acquire(served, "retrain:tiny", stale_after=timedelta(hours=1)) is None
    decision = monitor_run(served)
    assert decision.action == "locked" and ":" in decision.outcome["held_by"]
    assert alias_target(served, "tiny", "production").version == 1
    release(served, "retrain:tiny")


def _contend(url: str, barrier, results) -> None:
    store = Store(url)

    class Holder:
        pass

    project = Holder()
    project.store = store  # try_acquire only needs the store
    barrier.wait()
    results.put(try_acquire(project, "retrain:x", stale_after=timedelta(hours=1)))  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_only_one_of_several_processes_gets_the_lock(backend: str, tmp_path: Path, request) -> None:
    url = (
        f"sqlite:///{tmp_path / 'state.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_schema_url")
    )
    Store(url).migrate()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_contend, args=(url, barrier, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes.count(None) == 1, outcomes


def test_an_abandoned_lock_is_taken_over(served: Project) -> None:
    from datetime import UTC, datetime

    assert (
        try_acquire(
            served, "retrain:y", stale_after=timedelta(hours=1), now=datetime.now(UTC) - timedelta(hours=2)
        )
        is None
    )
    assert try_acquire(served, "retrain:y", stale_after=timedelta(hours=3)) is not None
    assert try_acquire(served, "retrain:y", stale_after=timedelta(hours=1)) is None


def test_alerts_are_logged_and_posted_to_the_webhook(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    import httpx

    from tuneloop.monitor.alerts import alert

    posted = []

    class Answer:
        def raise_for_status(self) -> None:
            if posted[-1][0].endswith("/broken"):
                raise httpx.HTTPStatusError(
                    "500", request=httpx.Request("POST", posted[-1][0]), response=None
                )  # type: ignore[arg-type]

    monkeypatch.setattr(
        httpx, "post", lambda url, **kwargs: posted.append((url, kwargs["content"])) or Answer()
    )
    payload = alert("drift", "tiny@production", {"p_value": 0.001}, webhook_url="http://hooks.local/in")
    assert json.loads(posted[0][1]) == payload and payload["event"] == "drift"
    assert "tuneloop alert" in caplog.text and '"event": "drift"' in caplog.text
    alert("gate_failed", "tiny@production", {}, webhook_url="http://hooks.local/broken")  # logged, not raised
    assert "webhook http://hooks.local/broken failed" in caplog.text


def test_the_daemon_survives_a_failed_round_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tuneloop.config import starter_config_text

    root = tmp_path / "empty"
    root.mkdir()
    (root / "tuneloop.yaml").write_text(starter_config_text("empty"))
    process = subprocess.Popen([sys.executable, "-m", "tuneloop", "monitor", "daemon", "--interval", "1s"],
                               cwd=root, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(8)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert (
        stderr.count("monitor run failed") >= 2 and "empty@production" in stderr and "Traceback" not in stderr
    )


def test_a_retraining_killed_mid_run_is_resumed_by_the_next_run(served: Project, monkeypatch) -> None:
    import functools

    import tuneloop.train
    from tuneloop.store import MonitorLockRecord
    from tuneloop.train.training_loop import SimulatedCrash

    plain = tuneloop.train.TrainRequest
    monkeypatch.setattr(tuneloop.train, "TrainRequest", functools.partial(plain, crash_after_step=2))
    with pytest.raises(SimulatedCrash):
        monitor_run(served)
    [crashed] = [d for d in _decisions(served) if d.status == "running"]
    with served.store.session() as session:  # kill -9 leaves the lock row of a process that is gone
        session.add(
            MonitorLockRecord(name="retrain:tiny", holder=f"{__import__('socket').gethostname()}:999999")
        )
    monkeypatch.setattr(tuneloop.train, "TrainRequest", plain)
    resumed = monitor_run(served)
    assert resumed.decision_id == crashed.id and resumed.run_name == crashed.run_name
    assert resumed.status == "completed" and resumed.candidate == "tiny:2"
    assert _decisions(served)[-1].status == "completed" or crashed.id in {
        d.id for d in _decisions(served) if d.status == "completed"
    }
