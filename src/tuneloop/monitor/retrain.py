"""``tuneloop monitor run``: check drift, online quality and feedback, apply the retraining policy,
and when it fires run the whole pipeline — new dataset version, train, gates, red-team, register,
promote only if configured and every gate passes.

One-shot by design, for cron, Airflow or a Kubernetes CronJob (``monitor daemon`` repeats it). Every
run records a :class:`~tuneloop.store.RetrainDecisionRecord` with each condition's value and whether
it held, so "why did (or didn't) it retrain?" has an answer. A retraining holds a lock in the store
(:mod:`.lock`), so two schedulers never retrain at once; one that crashed leaves its decision
``running`` with its run's name, and the next ``monitor run`` resumes that training run
(``train --resume``) instead of starting over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tuneloop.config.monitor import RetrainPolicy, duration_seconds
from tuneloop.data.records import Record, record_digest
from tuneloop.data.versions import get_dataset_version, load_dataset_version_records
from tuneloop.monitor.alerts import alert
from tuneloop.monitor.drift import drift
from tuneloop.monitor.feedback import curate_feedback
from tuneloop.monitor.lock import held
from tuneloop.monitor.online_eval import evaluate_online
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.refs import parse_model_ref
from tuneloop.registry import ModelVersionInfo, get_model_version
from tuneloop.store import ModelVersionRecord, RetrainDecisionRecord


@dataclass(frozen=True)
class ConditionResult:
    condition: str
    held: bool
    value: Any
    detail: str


@dataclass
class RetrainDecision:
    """What one ``monitor run`` found and did."""

    model: str
    serving: str
    fired: bool
    dry_run: bool
    action: str
    conditions: list[ConditionResult]
    groups: list[list[str]]
    status: str = "decided"
    decision_id: int | None = None
    dataset_version_id: int | None = None
    run_name: str | None = None
    candidate: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "serving": self.serving, "fired": self.fired, "dry_run": self.dry_run,
            "action": self.action, "status": self.status, "groups": self.groups,
            "conditions": [c.__dict__ for c in self.conditions], "decision_id": self.decision_id,
            "dataset_version_id": self.dataset_version_id, "run_name": self.run_name, "candidate": self.candidate,
            "outcome": self.outcome, "alerts": self.alerts,
        }  # fmt: skip


def condition_name(condition: str | dict[str, Any]) -> str:
    if isinstance(condition, str):
        return condition
    key, value = next(iter(condition.items()))
    return f"{key}: {value}"


def _training_records(project: Project, version: ModelVersionInfo) -> list[Record]:
    dataset_id = version.lineage.get("dataset_version_id")
    if dataset_id is None:
        return []
    return load_dataset_version_records(project, get_dataset_version(project, str(dataset_id)))


def _registered_at(project: Project, version: ModelVersionInfo) -> datetime:
    with project.store.session() as session:
        stamp = session.get_one(ModelVersionRecord, version.id).created_at
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


@dataclass
class Evidence:
    """The checks' results the conditions read."""

    drift_states: list[str]
    quality_alerts: list[str]
    new_curated: list[Record]
    serving_age: timedelta


def _evaluate(condition: str | dict[str, Any], evidence: Evidence) -> ConditionResult:
    name = condition_name(condition)
    if condition == "drift_sustained":
        held_ = "sustained" in evidence.drift_states
        return ConditionResult(
            name,
            held_,
            evidence.drift_states,
            f"drift state: {', '.join(evidence.drift_states) or 'no window'}",
        )
    if condition == "quality_drop":
        return ConditionResult(name, bool(evidence.quality_alerts), evidence.quality_alerts,
                               "; ".join(evidence.quality_alerts) or "no online-quality alert")  # fmt: skip
    assert isinstance(condition, dict)
    if "min_curated" in condition:
        wanted = int(condition["min_curated"])
        have = len(evidence.new_curated)
        return ConditionResult(
            name, have >= wanted, have, f"{have} curated examples not yet trained on (need {wanted})"
        )
    limit = timedelta(seconds=duration_seconds(str(condition["every"])))
    age = evidence.serving_age
    return ConditionResult(
        name, age >= limit, age.total_seconds(), f"the serving version is {age.days} days old"
    )


def gather_evidence(
    project: Project,
    model: str,
    serving: ModelVersionInfo,
    *,
    record: bool,
    judge_backend: Any,
    progress: Progress,
) -> tuple[Evidence, list[dict[str, Any]]]:
    """Run the checks (drift, online quality, feedback curation) and collect what the policy reads."""
    policy = project.config.monitor.retrain
    notices = []
    segments = drift(project, model, record=record, progress=progress)
    for segment in segments:
        if segment.drift:
            notices.append(alert("drift", model, {"version": segment.version, "state": segment.state.state,
                                 "p_value": segment.deciding_test.p_value if segment.deciding_test else None},
                                 webhook_url=policy.webhook_url if record else None))  # fmt: skip
    current = [s for s in segments if s.version in (serving.reference, None)]
    online = evaluate_online(project, model, record=record, judge_backend=judge_backend, progress=progress)
    drops = [a.describe() for r in online if r.version in (serving.reference, None) for a in r.alerts]
    if drops:
        notices.append(
            alert(
                "quality_drop", model, {"alerts": drops}, webhook_url=policy.webhook_url if record else None
            )
        )
    curation = curate_feedback(project, serving.name, register=record, progress=progress)
    trained = {record_digest(r) for r in _training_records(project, serving)}
    new = [r for r in curation.records if record_digest(r) not in trained]
    age = datetime.now(UTC) - _registered_at(project, serving)
    return Evidence([s.state.state for s in current], drops, list(new), age), notices


def decide(policy: RetrainPolicy, evidence: Evidence) -> tuple[bool, list[ConditionResult], list[list[str]]]:
    """Whether the policy fires: every condition of any one group holds."""
    results: dict[str, ConditionResult] = {}
    groups = []
    for group in policy.when:
        groups.append([condition_name(c) for c in group])
        for condition in group:
            results.setdefault(condition_name(condition), _evaluate(condition, evidence))
    fired = any(all(results[name].held for name in group) for group in groups)
    return fired, list(results.values()), groups


def monitor_run(
    project: Project,
    *,
    dry_run: bool = False,
    judge_backend: Any = None,
    progress: Progress = SILENT,
) -> RetrainDecision:
    """Check, decide, and (unless ``dry_run``) retrain when the policy fires; every run is recorded."""
    policy = project.config.monitor.retrain
    model = policy.model or f"{project.config.project.name}@production"
    serving = get_model_version(project, model)
    interrupted = _interrupted(project, model)
    evidence, notices = gather_evidence(project, model, serving, record=not dry_run,
                                        judge_backend=judge_backend, progress=progress)  # fmt: skip
    fired, conditions, groups = decide(policy, evidence)
    resume = interrupted is not None and not dry_run
    action = "none" if not (fired or resume) else ("would_retrain" if dry_run else "retrain")
    decision = RetrainDecision(
        model, serving.reference, fired, dry_run, action, conditions, groups, alerts=notices
    )
    if dry_run or action == "none":
        _record(project, decision, evidence)
        return decision
    stale = timedelta(seconds=duration_seconds(policy.lock_timeout))
    with held(project, f"retrain:{parse_model_ref(model).name}", stale_after=stale) as busy:
        if busy is not None:
            decision.action, decision.outcome = "locked", {"held_by": busy}
            _record(project, decision, evidence)
            return decision
        from tuneloop.monitor.pipeline import retrain

        if interrupted is not None:
            decision.decision_id, decision.run_name = interrupted.id, interrupted.run_name
            decision.dataset_version_id = interrupted.dataset_version_id
        else:
            _record(project, decision, evidence, status="running")
        retrain(project, decision, serving, evidence.new_curated, progress=progress)
    return decision


def _interrupted(project: Project, model: str) -> RetrainDecisionRecord | None:
    """A retraining that died mid-way (its decision still ``running``), to resume."""
    with project.store.session() as session:
        return session.scalars(
            select(RetrainDecisionRecord)
            .where(RetrainDecisionRecord.model == model, RetrainDecisionRecord.status == "running")
            .order_by(RetrainDecisionRecord.id.desc())
        ).first()


def _record(
    project: Project, decision: RetrainDecision, evidence: Evidence, *, status: str = "decided"
) -> None:
    decision.status = status
    with project.store.session() as session:
        row = RetrainDecisionRecord(
            model=decision.model, fired=decision.fired, dry_run=decision.dry_run, action=decision.action,
            status=status, outcome=decision.outcome,
            evidence={"serving": decision.serving, "groups": decision.groups,
                      "conditions": [c.__dict__ for c in decision.conditions],
                      "drift_states": evidence.drift_states, "quality_alerts": evidence.quality_alerts,
                      "new_curated": len(evidence.new_curated), "alerts": decision.alerts},
        )  # fmt: skip
        session.add(row)
        session.flush()
        decision.decision_id = row.id


def update_decision(project: Project, decision: RetrainDecision, *, finished: bool = False) -> None:
    """Write the decision's progress (dataset, run, candidate, outcome, status) to its record."""
    with project.store.session() as session:
        row = session.get_one(RetrainDecisionRecord, decision.decision_id)
        row.status, row.outcome, row.action = decision.status, decision.outcome, decision.action
        row.dataset_version_id, row.run_name = decision.dataset_version_id, decision.run_name
        if decision.candidate is not None:
            row.candidate_version_id = get_model_version(project, decision.candidate).id
        if finished:
            row.finished_at = datetime.now(UTC)
