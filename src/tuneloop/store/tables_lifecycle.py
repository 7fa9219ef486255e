"""Tables of the lifecycle: dataset versions, training runs, model versions, aliases, evaluations.

Migrations 0002 (datasets) and 0003 (runs and registry). Records point at each other so a model
version's whole lineage (data, base model, config, parent version, evaluations) is one query away.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tuneloop.store.table_base import Base, utcnow


class DatasetVersionRecord(Base):
    """A content-addressed snapshot of a checked dataset (the digest of its normalised records)."""

    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    """Human name, by default the first source file's stem."""
    kind: Mapped[str] = mapped_column(String(20))
    """``conversation``, ``preference``, ``text`` or ``mixed``."""
    num_records: Mapped[int] = mapped_column(Integer)
    source_files: Mapped[list[Any]] = mapped_column(JSON, default=list)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    """Artifact holding the normalised records as JSONL, so a run can be reproduced exactly."""
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    report_json_sha256: Mapped[str | None] = mapped_column(String(64))
    report_html_sha256: Mapped[str | None] = mapped_column(String(64))
    gate_passed: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRecord(Base):
    """A training run: its inputs (config, data, base model, environment), state and outcome."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    """``running``, ``completed``, ``failed`` or ``interrupted`` (resumable)."""
    method: Mapped[str] = mapped_column(String(20))
    adapter: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dataset_version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    eval_dataset_version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    base_reference: Mapped[str] = mapped_column(String(500))
    base_weights_sha256: Mapped[str] = mapped_column(String(64))
    chat_template_sha256: Mapped[str | None] = mapped_column(String(64))
    parent_version_id: Mapped[int | None] = mapped_column(Integer)
    """The registered version this run continued from (e.g. SFT after CPT, a child of a safe parent).
    No foreign key: model_versions already points at runs, and a cycle would complicate migrations."""
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Environment lock: tuneloop, Python, library versions, hardware."""
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    force_reason: Mapped[str | None] = mapped_column(Text)
    licence_override: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    output_dir: Mapped[str] = mapped_column(String(2000))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class RunMetricRecord(Base):
    """One metric value of a run at an optimizer step (train/eval loss, accuracy, lr, throughput)."""

    __tablename__ = "run_metrics"
    __table_args__ = (Index("ix_run_metrics_run_name_step", "run_id", "name", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersionRecord(Base):
    """A registered model: ``<name>:<version>``, an adapter or full weights plus its lineage."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_model_versions_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    """``adapter`` (PEFT adapter over ``base_reference``) or ``full`` (complete weights)."""
    status: Mapped[str] = mapped_column(String(20), default="candidate")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    parent_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    base_reference: Mapped[str] = mapped_column(String(500))
    base_weights_sha256: Mapped[str] = mapped_column(String(64))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    """Tree hash of the adapter or weights directory in the artifact store."""
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AliasRecord(Base):
    """Where an alias (``production``, ``staging`` ...) of a model name points now."""

    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("name", "alias", name="uq_aliases_name_alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    alias: Mapped[str] = mapped_column(String(100))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """Incremented by every move: a move is a compare-and-swap on it, so two processes moving the same
    alias at once cannot both succeed from the same starting point (migration 0005)."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AliasEventRecord(Base):
    """Append-only history of alias moves (set, promote, rollback); never updated or deleted."""

    __tablename__ = "alias_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    alias: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    """A promote that skipped failed gates (``--force``); its ``reason`` says why (migration 0005)."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The evidence of the move: each gate checked with its result and the results it rested on."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvaluationRecord(Base):
    """An evaluation, gate or red-team result, attached to the model version it judged."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    """``eval``, ``gate``, ``redteam`` or ``redteam-gate``."""
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), index=True)
    model_reference: Mapped[str] = mapped_column(String(500))
    suite: Mapped[str | None] = mapped_column(String(500))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    report_json_sha256: Mapped[str | None] = mapped_column(String(64))
    report_html_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
