"""Aliases (``production``, ``staging`` ...) with an append-only history of every move.

A move is a compare-and-swap on :attr:`AliasRecord.revision` in the same transaction as its
:class:`AliasEventRecord`, so an alias and its history never disagree, whatever other processes do:
for every alias, each event's ``previous_version_id`` is the preceding event's ``model_version_id``
and the last event's ``model_version_id`` is where the alias points.

Conflicts (another process moved the alias between our read and our write):

- a plain move (no ``expect_revision``) is retried from a fresh read, up to :data:`MAX_ATTEMPTS`;
  the last writer wins, as with any "set";
- a move that rests on what the caller saw (``expect_revision``: promotion checked its gates against
  the target of that revision, a rollback chose its target from that history) is refused with
  :class:`AliasMoved`; the caller decides whether to look again.

A move of the production alias (``eval.baselines.production_alias``) also sets the versions'
``status`` in the same transaction: ``production`` for the target, ``archived`` for the one it left.

Creating an alias is race-safe too: two processes inserting the same ``name@alias`` collide on the
unique constraint ``uq_aliases_name_alias``; the loser retries as a move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tuneloop.errors import CheckFailed, InvalidInput, Location, NotFound
from tuneloop.project import Project
from tuneloop.refs import parse_model_ref
from tuneloop.registry.versions import ModelVersionInfo, get_model_version
from tuneloop.store import AliasEventRecord, AliasRecord, ModelVersionRecord, utcnow

MAX_ATTEMPTS = 20
"""Fresh reads a plain move tries before giving up on a hot alias."""


class AliasMoved(CheckFailed):
    """The alias moved after the caller read it (compare-and-swap lost): exit code 1."""


@dataclass(frozen=True)
class AliasEvent:
    id: int
    name: str
    alias: str
    action: str
    model_version_id: int | None
    previous_version_id: int | None
    reason: str | None
    actor: str | None
    forced: bool
    details: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, e: AliasEventRecord) -> AliasEvent:
        return cls(
            e.id, e.name, e.alias, e.action, e.model_version_id, e.previous_version_id, e.reason, e.actor,
            bool(e.forced), dict(e.details or {}), as_utc(e.created_at),
        )  # fmt: skip


@dataclass(frozen=True)
class AliasState:
    """Where ``name@alias`` points and at which revision (0 and None: the alias does not exist)."""

    name: str
    alias: str
    model_version_id: int | None
    revision: int
    updated_at: datetime | None


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store only ever writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def alias_state(project: Project, name: str, alias: str) -> AliasState:
    with project.store.session() as session:
        pointer = _pointer(session, name, alias)
        if pointer is None:
            return AliasState(name, alias, None, 0, None)
        return AliasState(name, alias, pointer.model_version_id, pointer.revision, as_utc(pointer.updated_at))


def _pointer(session: Session, name: str, alias: str) -> AliasRecord | None:
    return session.scalars(
        select(AliasRecord).where(AliasRecord.name == name, AliasRecord.alias == alias)
    ).one_or_none()


def check_alias_name(name: str, alias: str) -> None:
    """``name@alias`` must be a reference the grammar reads back (what serving and every verb parse)."""
    try:
        ref = parse_model_ref(f"{name}@{alias}")
    except InvalidInput:
        ref = None
    if ref is None or ref.kind != "alias" or ref.alias != alias:
        raise InvalidInput(
            "invalid_alias",
            f"'{alias}' is not an alias name (letters, digits, '.', '_', '-')",
            Location(field="alias"),
        )


class _Conflict(Exception):
    """The compare-and-swap found another revision than the one read."""


def set_alias(
    project: Project,
    reference: str,
    alias: str,
    *,
    action: str = "set",
    reason: str | None = None,
    actor: str | None = None,
    forced: bool = False,
    details: dict[str, Any] | None = None,
    expect_revision: int | None = None,
) -> ModelVersionInfo:
    """Point ``<name>@<alias>`` at the version ``reference`` (``name:N``) and log the move.

    ``expect_revision`` (0: the alias must not exist yet) makes the move conditional: if the alias is
    at another revision, :class:`AliasMoved` is raised and nothing changes.
    """
    info = get_model_version(project, reference)
    check_alias_name(info.name, alias)
    for _ in range(MAX_ATTEMPTS):
        try:
            _move_once(project, info, alias, action, reason, actor, forced, details or {}, expect_revision)
            return info
        except (_Conflict, IntegrityError):
            if expect_revision is not None:
                raise _moved(project, info.name, alias, expect_revision) from None
    raise AliasMoved(
        "alias_contended",
        f"'{info.name}@{alias}' kept moving under {MAX_ATTEMPTS} attempts to move it; try again",
    )


def _moved(project: Project, name: str, alias: str, expected: int) -> AliasMoved:
    now = alias_state(project, name, alias)
    return AliasMoved(
        "alias_moved",
        f"'{name}@{alias}' moved while this change was being decided (expected revision {expected}, "
        f"now {now.revision}); see `tuneloop registry history {name} --alias {alias}` and run it again",
    )


def _move_once(project: Project, info: ModelVersionInfo, alias: str, action: str, reason: str | None,
               actor: str | None, forced: bool, details: dict[str, Any], expected: int | None) -> None:  # fmt: skip
    with project.store.session() as session:
        pointer = _pointer(session, info.name, alias)
        revision = pointer.revision if pointer is not None else 0
        if expected is not None and revision != expected:
            raise _Conflict
        if pointer is None:
            previous = None
            session.add(AliasRecord(name=info.name, alias=alias, model_version_id=info.id, revision=1))
            session.flush()  # a concurrent creation fails here on uq_aliases_name_alias
        else:
            previous = pointer.model_version_id
            # The WHERE on the revision read above is the compare-and-swap: a concurrent move has
            # incremented it, so this matches no row (PostgreSQL re-reads the row after the other
            # transaction commits; SQLite serialises writers).
            moved = session.execute(
                update(AliasRecord)
                .where(AliasRecord.id == pointer.id, AliasRecord.revision == revision)
                .values(model_version_id=info.id, revision=revision + 1, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _Conflict
        if alias == project.config.eval.baselines.production_alias:
            _mark_production(session, info.id, previous)
        session.add(
            AliasEventRecord(
                name=info.name, alias=alias, action=action, model_version_id=info.id,
                previous_version_id=previous, reason=reason, actor=actor, forced=forced, details=details,
            )
        )  # fmt: skip


def _mark_production(session: Session, version_id: int, previous: int | None) -> None:
    """A version's ``status`` follows the production alias, in the move's transaction: the target is
    ``production``, the version it left ``archived`` (others stay ``candidate``)."""
    if previous is not None and previous != version_id:
        session.execute(
            update(ModelVersionRecord).where(ModelVersionRecord.id == previous).values(status="archived")
        )
    session.execute(
        update(ModelVersionRecord).where(ModelVersionRecord.id == version_id).values(status="production")
    )


def alias_target(project: Project, name: str, alias: str) -> ModelVersionInfo | None:
    """The version behind ``name@alias``, or None when the alias does not exist yet."""
    try:
        return get_model_version(project, f"{name}@{alias}")
    except NotFound:
        return None


def alias_history(project: Project, name: str, alias: str | None = None) -> list[AliasEvent]:
    """The moves of ``name``'s aliases (of ``alias`` only when given), oldest first."""
    with project.store.session() as session:
        query = select(AliasEventRecord).where(AliasEventRecord.name == name).order_by(AliasEventRecord.id)
        if alias is not None:
            query = query.where(AliasEventRecord.alias == alias)
        return [AliasEvent.of(e) for e in session.scalars(query)]


def list_aliases(project: Project, name: str | None = None) -> list[AliasState]:
    """Every alias (of ``name`` when given) with its target and revision."""
    with project.store.session() as session:
        query = select(AliasRecord).order_by(AliasRecord.name, AliasRecord.alias)
        if name is not None:
            query = query.where(AliasRecord.name == name)
        return [
            AliasState(p.name, p.alias, p.model_version_id, p.revision, as_utc(p.updated_at))
            for p in session.scalars(query)
        ]
