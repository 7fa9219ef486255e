"""What ``registry list|show|diff|history`` print, as plain records (the CLI renders them).

- :func:`describe_versions`: every version with a lineage summary and the aliases pointing at it;
- :func:`describe_version`: one version's whole lineage (base and its weight hash, chat-template hash,
  dataset version, run, config, environment), its attached results and its aliases;
- :func:`diff_versions`: what changed between two versions: data, settings, metrics;
- :func:`describe_history`: the alias moves with actor, reason, forced and previous -> new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tuneloop.errors import InvalidInput, NotFound
from tuneloop.project import Project
from tuneloop.refs import parse_model_ref
from tuneloop.registry.aliases import AliasEvent, alias_history, list_aliases
from tuneloop.registry.attached_results import EvaluationInfo, list_results
from tuneloop.registry.versions import ModelVersionInfo, get_model_version, list_model_versions
from tuneloop.store import DatasetVersionRecord, ModelVersionRecord, RunRecord


@dataclass(frozen=True)
class VersionSummary:
    """One line of ``registry list``."""

    reference: str
    id: int
    kind: str
    status: str
    base_reference: str
    run: str | None
    method: str | None
    dataset_digest: str | None
    created_at: datetime | None
    aliases: list[str]


@dataclass(frozen=True)
class ResultSummary:
    """An attached evaluation, gate or red-team result, in a line."""

    id: int
    kind: str
    suite: str | None
    passed: bool | None
    primary_metric: str | None
    value: float | None
    compared_with: dict[str, str]
    """Baseline role -> the exact model reference it was compared with (gate and eval results)."""
    created_at: datetime


@dataclass
class VersionDetail:
    """``registry show NAME[:V]``."""

    version: ModelVersionInfo
    created_at: datetime | None
    aliases: list[str]
    chat_template_sha256: str | None
    dataset: dict[str, Any] | None
    run: dict[str, Any] | None
    settings: dict[str, Any]
    environment: dict[str, Any]
    results: list[ResultSummary] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    section: str
    """``data``, ``settings`` or ``metrics``."""
    key: str
    before: Any
    after: Any


@dataclass
class VersionDiff:
    """``registry diff A B``: what B changed relative to A."""

    first: str
    second: str
    changes: list[Change]

    def section(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.section == name]


@dataclass(frozen=True)
class HistoryEntry:
    """An alias move with its versions spelled as references."""

    event: AliasEvent
    previous: str | None
    new: str | None


def _aliases_by_version(project: Project, name: str | None) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for state in list_aliases(project, name):
        if state.model_version_id is not None:
            found.setdefault(state.model_version_id, []).append(state.alias)
    return found


def _created(project: Project, ids: list[int]) -> dict[int, datetime]:
    with project.store.session() as session:
        rows = session.execute(
            select(ModelVersionRecord.id, ModelVersionRecord.created_at).where(ModelVersionRecord.id.in_(ids))
        )
        return {row[0]: row[1] for row in rows}


def describe_versions(project: Project, name: str | None = None) -> list[VersionSummary]:
    """Every registered version (of ``name``), oldest first."""
    versions = list_model_versions(project, name)
    aliases = _aliases_by_version(project, name)
    created = _created(project, [v.id for v in versions])
    return [
        VersionSummary(
            reference=v.reference,
            id=v.id,
            kind=v.kind,
            status=v.status,
            base_reference=v.base_reference,
            run=v.lineage.get("run"),
            method=v.lineage.get("method"),
            dataset_digest=v.lineage.get("dataset_digest"),
            created_at=created.get(v.id),
            aliases=aliases.get(v.id, []),
        )
        for v in versions
    ]


def _version(project: Project, reference: str) -> ModelVersionInfo:
    """``NAME:V``, ``NAME@alias``, or a bare ``NAME`` for its newest version."""
    text = reference.strip()
    if text and not any(c in text for c in ":@/"):
        versions = list_model_versions(project, text)
        if not versions:
            raise NotFound(
                "unknown_model", f"no registered versions of '{text}'; see `tuneloop registry list`"
            )
        return versions[-1]
    return get_model_version(project, parse_model_ref(text))


def summarise_result(result: EvaluationInfo) -> ResultSummary:
    summary = result.summary
    primary = summary.get("primary_metric")
    value = (summary.get("metrics") or {}).get(primary) if primary else None
    baselines = summary.get("baselines") or {}
    compared = {
        role: b["reference"] for role, b in baselines.items() if isinstance(b, dict) and "reference" in b
    }
    if result.kind.startswith("redteam") and summary.get("baseline"):
        compared = {"baseline": summary["baseline"]}
    return ResultSummary(
        result.id, result.kind, result.suite, result.passed, primary, value, compared, result.created_at
    )


def describe_version(project: Project, reference: str) -> VersionDetail:
    """``NAME:V``, ``NAME@alias`` or ``NAME`` (its newest version) with everything known about it."""
    info = _version(project, reference)
    lineage = info.lineage
    with project.store.session() as session:
        record = session.get_one(ModelVersionRecord, info.id)
        run = session.get(RunRecord, info.run_id) if info.run_id is not None else None
        dataset_id = lineage.get("dataset_version_id") or (run.dataset_version_id if run else None)
        dataset = session.get(DatasetVersionRecord, dataset_id) if dataset_id is not None else None
        run_view = None if run is None else {
            "id": run.id, "name": run.name, "status": run.status, "method": run.method, "adapter": run.adapter,
            "config": dict(run.config or {}), "summary": dict(run.summary or {}),
            "forced": run.forced, "force_reason": run.force_reason,
        }  # fmt: skip
        dataset_view = None if dataset is None else {
            "id": dataset.id, "digest": dataset.digest, "name": dataset.name, "kind": dataset.kind,
            "records": dataset.num_records,
        }  # fmt: skip
        created_at = record.created_at
        environment = dict(run.environment or {}) if run is not None else {}
        template = lineage.get("chat_template_sha256") or (run.chat_template_sha256 if run else None)
    if dataset_view is None and lineage.get("dataset_digest"):
        dataset_view = {"id": dataset_id, "digest": lineage["dataset_digest"]}
    return VersionDetail(
        version=info,
        created_at=created_at,
        aliases=_aliases_by_version(project, info.name).get(info.id, []),
        chat_template_sha256=template,
        dataset=dataset_view,
        run=run_view,
        settings=dict(lineage.get("settings") or {}),
        environment=environment or dict(lineage.get("environment") or {}),
        results=[summarise_result(r) for r in list_results(project, model_version_id=info.id)],
    )


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay whole: they are compared as values)."""
    if not isinstance(value, dict):
        return {prefix: value} if prefix else {}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _data_view(detail: VersionDetail) -> dict[str, Any]:
    dataset = detail.dataset or {}
    return {
        "dataset_version_id": dataset.get("id"), "dataset_digest": dataset.get("digest"),
        "dataset_name": dataset.get("name"), "records": dataset.get("records"),
        "base_reference": detail.version.base_reference,
        "base_weights_sha256": detail.version.base_weights_sha256,
        "chat_template_sha256": detail.chat_template_sha256,
    }  # fmt: skip


def _settings_view(detail: VersionDetail) -> dict[str, Any]:
    config = (detail.run or {}).get("config") or {}
    return flatten({"settings": detail.settings, "config": config})


def _metrics_view(detail: VersionDetail, project: Project) -> dict[str, Any]:
    """The newest primary metric per (kind, suite), red-team failure rates, the training summary."""
    metrics: dict[str, Any] = {}
    for result in list_results(project, model_version_id=detail.version.id):
        if result.summary.get("primary_metric"):
            brief = summarise_result(result)
            metrics[f"{result.kind}:{result.suite}:{brief.primary_metric}"] = brief.value
        elif result.kind == "redteam":
            for category, entry in (result.summary.get("categories") or {}).items():
                metrics[f"redteam:{category}:failure_rate"] = entry.get("rate")
    training = ((detail.run or {}).get("summary")) or {}
    for key, value in training.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[f"training:{key}"] = value
    return metrics


def _changes(section: str, before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    return [
        Change(section, key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def diff_versions(project: Project, first: str, second: str) -> VersionDiff:
    """What ``second`` changed relative to ``first``: data, settings and metrics, key by key."""
    a, b = describe_version(project, first), describe_version(project, second)
    if a.version.id == b.version.id:
        raise InvalidInput(
            "same_version", f"'{first}' and '{second}' are the same version ({a.version.reference})"
        )
    changes = [
        *_changes("data", _data_view(a), _data_view(b)),
        *_changes("settings", _settings_view(a), _settings_view(b)),
        *_changes("metrics", _metrics_view(a, project), _metrics_view(b, project)),
    ]
    return VersionDiff(a.version.reference, b.version.reference, changes)


def describe_history(project: Project, name: str, alias: str | None = None) -> list[HistoryEntry]:
    """The moves of ``name``'s aliases, oldest first, with references instead of ids."""
    references = {v.id: v.reference for v in list_model_versions(project, name)}
    return [
        HistoryEntry(
            e,
            references.get(e.previous_version_id) if e.previous_version_id is not None else None,
            references.get(e.model_version_id) if e.model_version_id is not None else None,
        )
        for e in alias_history(project, name, alias)
    ]
