"""Training runs in the store: create, record metrics, finish, find resumable ones, list and compare.

A running run holds an exclusive ``flock`` on ``<run dir>/run.lock``. The operating system releases
it when the process dies in any way (``kill -9`` included), so a run whose status says ``running``
but whose lock is free is known to be dead and can be resumed.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from tuneloop.errors import NotFound
from tuneloop.project import Project
from tuneloop.store import RunMetricRecord, RunRecord, utcnow

RESUMABLE = ("running", "interrupted", "failed")


@dataclass
class RunInfo:
    """A run, detached from the database session."""

    id: int
    name: str
    status: str
    method: str
    adapter: str
    config: dict[str, Any]
    dataset_version_id: int | None
    base_reference: str
    base_weights_sha256: str
    chat_template_sha256: str | None
    parent_version_id: int | None
    environment: dict[str, Any]
    forced: bool
    force_reason: str | None
    licence_override: dict[str, Any] | None
    output_dir: str
    summary: dict[str, Any]
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    final_metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, record: RunRecord) -> RunInfo:
        values = {f.name: getattr(record, f.name) for f in fields(cls) if f.name != "final_metrics"}
        for name in ("config", "environment", "summary"):  # detached copies, never None
            values[name] = dict(values[name] or {})
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["environment"] = {k: v for k, v in self.environment.items() if k != "packages"}
        return data


class RunLock:
    """An exclusive lock on a run directory, held while the run trains."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "run.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def is_free(self) -> bool:
        """True when no live process holds the lock."""
        if not self.path.exists():
            return True
        if self.acquire():
            self.release()
            return True
        return False


def run_dir(project: Project, name: str) -> Path:
    return project.state_dir / "runs" / name


def unique_run_name(project: Project, stem: str) -> str:
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    base = f"{stem}-{stamp}"
    with project.store.session() as session:
        taken = set(session.scalars(select(RunRecord.name).where(RunRecord.name.like(f"{base}%"))))
    name, counter = base, 2
    while name in taken or run_dir(project, name).exists():
        name, counter = f"{base}-{counter}", counter + 1
    return name


def log_event(directory: Path, event: str, **values: Any) -> None:
    """Append one JSON line to the run's ``log.jsonl`` (metrics, resumes, the outcome): a plain-text
    history that survives without the database and can be tailed during training."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": utcnow().isoformat(), "event": event, **values}, default=str)
    with (directory / "log.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def create_run(project: Project, **fields: Any) -> RunInfo:
    with project.store.session() as session:
        record = RunRecord(status="running", **fields)
        session.add(record)
        session.flush()
        return RunInfo.of(record)


def restart_run(project: Project, name: str, after_step: int) -> None:
    """Mark a resumed run running again and drop metrics logged after its checkpoint (the steps
    that are about to be trained again)."""
    with project.store.session() as session:
        record = _record(session, name)
        record.status = "running"
        record.error = None
        record.finished_at = None
        session.execute(
            delete(RunMetricRecord).where(
                RunMetricRecord.run_id == record.id, RunMetricRecord.step > after_step
            )
        )


def append_metrics(project: Project, run_id: int, step: int, values: dict[str, float]) -> None:
    with project.store.session() as session:
        session.add_all(
            RunMetricRecord(run_id=run_id, step=step, name=k, value=float(v)) for k, v in values.items()
        )


def finish_run(
    project: Project,
    name: str,
    status: str,
    *,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    with project.store.session() as session:
        record = _record(session, name)
        record.status = status
        if summary is not None:
            record.summary = {**(record.summary or {}), **summary}
        record.error = error
        record.finished_at = utcnow()
        log_event(Path(record.output_dir), status, error=error)


def update_summary(project: Project, name: str, values: dict[str, Any]) -> None:
    """Merge ``values`` into a run's summary without touching its status (the training verdict,
    completed once the post-training evaluation has run)."""
    with project.store.session() as session:
        record = _record(session, name)
        record.summary = {**(record.summary or {}), **values}


def _record(session: Any, name: str) -> RunRecord:
    record = session.scalars(select(RunRecord).where(RunRecord.name == name)).one_or_none()
    if record is None:
        raise NotFound("unknown_run", f"no run named '{name}'; see `tuneloop runs list`")
    return record


def get_run(project: Project, name: str, *, with_metrics: bool = True) -> RunInfo:
    with project.store.session() as session:
        info = RunInfo.of(_record(session, name))
    if with_metrics:
        info.final_metrics = final_metrics(project, info.id)
    return info


def list_runs(project: Project, *, status: str | None = None, limit: int | None = None) -> list[RunInfo]:
    with project.store.session() as session:
        query = select(RunRecord).order_by(RunRecord.started_at.desc(), RunRecord.id.desc())
        if status is not None:
            query = query.where(RunRecord.status == status)
        if limit is not None:
            query = query.limit(limit)
        runs = [RunInfo.of(r) for r in session.scalars(query)]
    for info in runs:
        info.final_metrics = final_metrics(project, info.id)
    return runs


def metric_series(project: Project, run_id: int) -> dict[str, list[tuple[int, float]]]:
    """Every metric of a run as (step, value) pairs in step order."""
    with project.store.session() as session:
        rows = session.execute(
            select(RunMetricRecord.name, RunMetricRecord.step, RunMetricRecord.value)
            .where(RunMetricRecord.run_id == run_id)
            .order_by(RunMetricRecord.step, RunMetricRecord.id)
        ).all()
    series: dict[str, list[tuple[int, float]]] = {}
    for name, step, value in rows:
        series.setdefault(name, []).append((step, value))
    return series


def final_metrics(project: Project, run_id: int) -> dict[str, float]:
    return {name: points[-1][1] for name, points in metric_series(project, run_id).items()}


def is_alive(info: RunInfo) -> bool:
    """A run marked running whose process still holds its lock."""
    return info.status == "running" and not RunLock(Path(info.output_dir)).is_free()


def find_resumable(project: Project, fingerprint: str | None = None) -> RunInfo | None:
    """The newest dead run (running with a free lock, interrupted or failed) with this fingerprint."""
    for info in list_runs(project):
        if info.status not in RESUMABLE or is_alive(info):
            continue
        if fingerprint is None or info.config.get("fingerprint") == fingerprint:
            return info
    return None


def compare_runs(project: Project, names: list[str]) -> dict[str, Any]:
    """Config differences (only keys whose values differ) and final metrics side by side."""
    runs = [get_run(project, name) for name in names]
    flat = [_flatten(run.config.get("settings", {})) for run in runs]
    keys = sorted(set().union(*flat)) if flat else []
    skip = ("derived.",)
    differing = {
        key: [f.get(key) for f in flat]
        for key in keys
        if not key.startswith(skip) and len({repr(f.get(key)) for f in flat}) > 1
    }
    metric_names = sorted(set().union(*(run.final_metrics for run in runs))) if runs else []
    return {
        "runs": [run.name for run in runs],
        "status": [run.status for run in runs],
        "config_differences": differing,
        "data": [run.config.get("dataset_digest") for run in runs],
        "base": [run.base_reference for run in runs],
        "metrics": {name: [run.final_metrics.get(name) for run in runs] for name in metric_names},
        "model_versions": [run.summary.get("model_version") for run in runs],
    }


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
