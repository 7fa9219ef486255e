"""Tables of the monitoring stage: drift windows, online evaluations, retraining decisions and the
retraining lock (migration 0006_monitor).

The rows of one segment (model name, alias) in order are the input of the sustained-drift state
machine, and the drift-over-time report; each row keeps the whole result as JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tuneloop.store.table_base import Base, utcnow


class _SegmentWindow:
    """The columns a check of one window of one model segment's traffic has (drift, online quality)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    model_name: Mapped[str] = mapped_column(String(500))
    alias: Mapped[str | None] = mapped_column(String(100))
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    model_reference: Mapped[str | None] = mapped_column(String(500))
    """The exact version whose traffic was checked, when the window has one."""
    window_start: Mapped[datetime | None] = mapped_column()
    window_end: Mapped[datetime | None] = mapped_column()
    report_json_sha256: Mapped[str | None] = mapped_column(String(64))
    report_html_sha256: Mapped[str | None] = mapped_column(String(64))


class DriftWindowRecord(_SegmentWindow, Base):
    """The drift check of one window of production traffic for one model segment."""

    __tablename__ = "drift_windows"
    __table_args__ = (Index("ix_drift_windows_segment", "model_name", "alias"),)

    source: Mapped[str] = mapped_column(Text)
    """Where production came from: ``request log`` or the file given."""
    reference: Mapped[str] = mapped_column(Text)
    """What it was compared with (``dataset version 3 (train, 770 records)``, a file)."""
    n_production: Mapped[int] = mapped_column(Integer)
    n_reference: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(50))
    statistic: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    drift: Mapped[bool | None] = mapped_column(Boolean)
    """None when the window was too small to test."""
    state: Mapped[str] = mapped_column(String(20))
    """The segment's drift state after this window (stable, drifting, sustained, recovering)."""
    state_detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OnlineEvaluationRecord(_SegmentWindow, Base):
    """Reference-free scores of a sample of one window's logged answers, per model version."""

    __tablename__ = "online_evaluations"
    __table_args__ = (Index("ix_online_evaluations_segment", "model_name", "alias"),)

    n_logged: Mapped[int] = mapped_column(Integer)
    n_scored: Mapped[int] = mapped_column(Integer)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per metric: mean, standard deviation, count, direction, and the per-response values."""
    alerts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """The metrics that dropped, with baseline, current value, difference and p-value."""


class RetrainDecisionRecord(Base):
    """One run of the retraining policy: the conditions with their evidence, and what was done."""

    __tablename__ = "retrain_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    model: Mapped[str] = mapped_column(String(500), index=True)
    """The watched model (``support@production``)."""
    fired: Mapped[bool] = mapped_column(Boolean)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    action: Mapped[str] = mapped_column(String(30))
    """``none``, ``would_retrain`` (dry run), ``retrain``, ``locked`` (another process is retraining)."""
    status: Mapped[str] = mapped_column(String(20))
    """``decided``, ``running``, ``completed`` or ``failed``."""
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Every condition's value and whether it held, the groups, and the inputs (drift window, alerts)."""
    dataset_version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    run_name: Mapped[str | None] = mapped_column(String(200))
    candidate_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Gates, promotion and errors of the retraining."""
    finished_at: Mapped[datetime | None] = mapped_column()


class MonitorLockRecord(Base):
    """A named lock held in the store, so two schedulers never retrain the same model at once."""

    __tablename__ = "monitor_locks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(300))
    """``host:pid`` of the process holding it."""
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
