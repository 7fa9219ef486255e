"""Model versions: register a training result as ``<name>:<n>`` and look versions up by reference.

The registry returns plain records (:class:`ModelVersionInfo`); turning a version into loadable
weights is :func:`tuneloop.models.resolve_model`'s job, so the registry imports nothing from
``tuneloop.models``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tuneloop.errors import NotFound
from tuneloop.project import Project
from tuneloop.refs import ModelRef, parse_model_ref
from tuneloop.store import AliasRecord, ModelVersionRecord


@dataclass(frozen=True)
class ModelVersionInfo:
    """A registered version, detached from the database session."""

    id: int
    name: str
    version: int
    kind: str
    status: str
    run_id: int | None
    parent_version_id: int | None
    base_reference: str
    base_weights_sha256: str
    artifact_sha256: str
    lineage: dict[str, Any]

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.version}"

    @classmethod
    def of(cls, record: ModelVersionRecord) -> ModelVersionInfo:
        return cls(
            id=record.id,
            name=record.name,
            version=record.version,
            kind=record.kind,
            status=record.status,
            run_id=record.run_id,
            parent_version_id=record.parent_version_id,
            base_reference=record.base_reference,
            base_weights_sha256=record.base_weights_sha256,
            artifact_sha256=record.artifact_sha256,
            lineage=dict(record.lineage or {}),
        )


def register_model_version(
    project: Project,
    *,
    name: str,
    kind: str,
    artifact_dir: Path,
    base_reference: str,
    base_weights_sha256: str,
    run_id: int | None = None,
    parent_version_id: int | None = None,
    lineage: dict[str, Any] | None = None,
) -> ModelVersionInfo:
    """Copy ``artifact_dir`` (adapter or full weights) into the artifact store and register the next
    version of ``name`` as a candidate."""
    if kind not in ("adapter", "full"):
        raise ValueError(f"kind must be 'adapter' or 'full', not {kind!r}")
    artifact_sha = project.artifacts.put_tree(artifact_dir)
    with project.store.session() as session:
        latest = session.scalar(
            select(func.max(ModelVersionRecord.version)).where(ModelVersionRecord.name == name)
        )
        record = ModelVersionRecord(
            name=name,
            version=(latest or 0) + 1,
            kind=kind,
            status="candidate",
            run_id=run_id,
            parent_version_id=parent_version_id,
            base_reference=base_reference,
            base_weights_sha256=base_weights_sha256,
            artifact_sha256=artifact_sha,
            lineage=lineage or {},
        )
        session.add(record)
        session.flush()
        return ModelVersionInfo.of(record)


def _find(session: Session, name: str, version: int | None, alias: str | None) -> ModelVersionRecord:
    if alias is not None:
        pointer = session.scalars(
            select(AliasRecord).where(AliasRecord.name == name, AliasRecord.alias == alias)
        ).one_or_none()
        if pointer is None:
            raise NotFound("unknown_alias", f"no alias '{name}@{alias}'; see `tuneloop runs list`")
        return session.get_one(ModelVersionRecord, pointer.model_version_id)
    record = session.scalars(
        select(ModelVersionRecord).where(
            ModelVersionRecord.name == name, ModelVersionRecord.version == version
        )
    ).one_or_none()
    if record is None:
        raise NotFound("unknown_model_version", f"no model version '{name}:{version}'")
    return record


def get_model_version(project: Project, reference: str | ModelRef) -> ModelVersionInfo:
    """The version named by ``name:3`` or ``name@alias``."""
    ref = reference if isinstance(reference, ModelRef) else parse_model_ref(reference)
    if ref.kind not in ("version", "alias"):
        raise NotFound(
            "not_a_registered_model", f"'{ref.raw}' is not a registered model (name:N or name@alias)"
        )
    with project.store.session() as session:
        return ModelVersionInfo.of(_find(session, ref.name, ref.version, ref.alias))


def get_model_version_by_id(project: Project, version_id: int) -> ModelVersionInfo:
    with project.store.session() as session:
        record = session.get(ModelVersionRecord, version_id)
        if record is None:
            raise NotFound("unknown_model_version", f"no model version with id {version_id}")
        return ModelVersionInfo.of(record)


def list_model_versions(project: Project, name: str | None = None) -> list[ModelVersionInfo]:
    with project.store.session() as session:
        query = select(ModelVersionRecord).order_by(ModelVersionRecord.name, ModelVersionRecord.version)
        if name is not None:
            query = query.where(ModelVersionRecord.name == name)
        return [ModelVersionInfo.of(r) for r in session.scalars(query)]


def parent_reference(project: Project, info: ModelVersionInfo) -> str:
    """The model a version was trained from: its parent version, else its base model."""
    if info.parent_version_id is None:
        return info.base_reference
    return get_model_version_by_id(project, info.parent_version_id).reference
