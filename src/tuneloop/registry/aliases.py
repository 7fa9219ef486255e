"""Aliases (``production``, ``staging`` ...) with an append-only history of every move."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tuneloop.errors import NotFound
from tuneloop.project import Project
from tuneloop.registry.versions import ModelVersionInfo, get_model_version
from tuneloop.store import AliasEventRecord, AliasRecord, utcnow


@dataclass(frozen=True)
class AliasEvent:
    name: str
    alias: str
    action: str
    model_version_id: int | None
    previous_version_id: int | None
    reason: str | None
    actor: str | None
    created_at: datetime


def set_alias(
    project: Project,
    reference: str,
    alias: str,
    *,
    action: str = "set",
    reason: str | None = None,
    actor: str | None = None,
) -> ModelVersionInfo:
    """Point ``<name>@<alias>`` at the version ``reference`` (``name:N``) and log the move."""
    info = get_model_version(project, reference)
    with project.store.session() as session:
        pointer = session.scalars(
            select(AliasRecord).where(AliasRecord.name == info.name, AliasRecord.alias == alias)
        ).one_or_none()
        previous = pointer.model_version_id if pointer else None
        if pointer is None:
            session.add(AliasRecord(name=info.name, alias=alias, model_version_id=info.id))
        else:
            pointer.model_version_id = info.id
            pointer.updated_at = utcnow()
        session.add(
            AliasEventRecord(
                name=info.name,
                alias=alias,
                action=action,
                model_version_id=info.id,
                previous_version_id=previous,
                reason=reason,
                actor=actor,
            )
        )
    return info


def alias_target(project: Project, name: str, alias: str) -> ModelVersionInfo | None:
    """The version behind ``name@alias``, or None when the alias does not exist yet."""
    try:
        return get_model_version(project, f"{name}@{alias}")
    except NotFound:
        return None


def alias_history(project: Project, name: str, alias: str | None = None) -> list[AliasEvent]:
    with project.store.session() as session:
        query = select(AliasEventRecord).where(AliasEventRecord.name == name).order_by(AliasEventRecord.id)
        if alias is not None:
            query = query.where(AliasEventRecord.alias == alias)
        return [
            AliasEvent(
                name=e.name,
                alias=e.alias,
                action=e.action,
                model_version_id=e.model_version_id,
                previous_version_id=e.previous_version_id,
                reason=e.reason,
                actor=e.actor,
                created_at=e.created_at,
            )
            for e in session.scalars(query)
        ]
