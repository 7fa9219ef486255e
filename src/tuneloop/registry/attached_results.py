"""Evaluation, gate and red-team results attached to model versions (promotion reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tuneloop.project import Project
from tuneloop.store import EvaluationRecord


@dataclass(frozen=True)
class EvaluationInfo:
    id: int
    kind: str
    model_version_id: int | None
    model_reference: str
    suite: str | None
    summary: dict[str, Any]
    passed: bool | None
    report_json_sha256: str | None
    report_html_sha256: str | None
    created_at: datetime

    @classmethod
    def of(cls, r: EvaluationRecord) -> EvaluationInfo:
        return cls(
            r.id, r.kind, r.model_version_id, r.model_reference, r.suite, dict(r.summary or {}), r.passed,
            r.report_json_sha256, r.report_html_sha256, r.created_at,
        )  # fmt: skip


def attach_result(
    project: Project,
    *,
    kind: str,
    model_reference: str,
    summary: dict[str, Any],
    model_version_id: int | None = None,
    suite: str | None = None,
    passed: bool | None = None,
    report_json_sha256: str | None = None,
    report_html_sha256: str | None = None,
) -> EvaluationInfo:
    """Record a result (``eval``, ``gate``, ``redteam``, ``redteam-gate``) for a model."""
    with project.store.session() as session:
        record = EvaluationRecord(
            kind=kind,
            model_version_id=model_version_id,
            model_reference=model_reference,
            suite=suite,
            summary=summary,
            passed=passed,
            report_json_sha256=report_json_sha256,
            report_html_sha256=report_html_sha256,
        )
        session.add(record)
        session.flush()
        return EvaluationInfo.of(record)


def list_results(
    project: Project, *, kind: str | None = None, model_version_id: int | None = None
) -> list[EvaluationInfo]:
    with project.store.session() as session:
        query = select(EvaluationRecord).order_by(EvaluationRecord.id)
        if kind is not None:
            query = query.where(EvaluationRecord.kind == kind)
        if model_version_id is not None:
            query = query.where(EvaluationRecord.model_version_id == model_version_id)
        return [EvaluationInfo.of(r) for r in session.scalars(query)]


def get_result(project: Project, result_id: int) -> EvaluationInfo | None:
    with project.store.session() as session:
        record = session.get(EvaluationRecord, result_id)
        return EvaluationInfo.of(record) if record else None
