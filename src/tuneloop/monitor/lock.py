"""A lock held in the store, so two ``monitor run`` processes (two cron hosts, a cron job and a daemon)
never retrain the same model at once.

Acquiring inserts a row keyed by the lock's name in its own transaction: the primary key makes exactly
one of several concurrent inserts succeed, on SQLite and PostgreSQL alike, with no server-specific
locking. A holder that died leaves its row; a row older than the policy's ``lock_timeout`` is taken
over (deleted and inserted again in one transaction, so two takers cannot both win), and so is a row
whose holder was a process on this host that no longer exists (a ``kill -9`` mid-retraining).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from tuneloop.project import Project
from tuneloop.store import MonitorLockRecord


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_dead(holder: str) -> bool:
    """True when ``holder`` is a process of this host that no longer runs (killed, crashed): its lock
    can be taken over at once instead of after ``lock_timeout``. Holders on other hosts cannot be
    checked from here and count as alive."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


def try_acquire(
    project: Project, name: str, *, stale_after: timedelta, now: datetime | None = None
) -> str | None:
    """Take the lock; None on success, else who holds it."""
    now = now or datetime.now(UTC)
    try:
        with project.store.session() as session:
            session.add(MonitorLockRecord(name=name, holder=holder_name(), acquired_at=now))
        return None
    except IntegrityError:
        pass
    with project.store.session() as session:
        current = session.get(MonitorLockRecord, name)
        if current is None:
            return try_acquire(project, name, stale_after=stale_after, now=now)
        acquired = (
            current.acquired_at if current.acquired_at.tzinfo else current.acquired_at.replace(tzinfo=UTC)
        )
        if now - acquired < stale_after and not holder_is_dead(current.holder):
            return current.holder
        holder, stamp = current.holder, current.acquired_at
    # Abandoned: delete exactly the row we saw (same holder and time) and insert ours; a concurrent
    # taker deletes nothing (rowcount 0) or fails the insert, and loses.
    try:
        with project.store.session() as session:
            removed = session.execute(
                delete(MonitorLockRecord).where(
                    MonitorLockRecord.name == name,
                    MonitorLockRecord.holder == holder,
                    MonitorLockRecord.acquired_at == stamp,
                )
            )
            if getattr(removed, "rowcount", 0) != 1:
                raise IntegrityError("lock taken over by another process", None, Exception())
            session.add(MonitorLockRecord(name=name, holder=holder_name(), acquired_at=now))
        return None
    except IntegrityError:
        with project.store.session() as session:
            winner = session.get(MonitorLockRecord, name)
            return winner.holder if winner else "another process"


def release(project: Project, name: str) -> None:
    with project.store.session() as session:
        session.execute(delete(MonitorLockRecord).where(MonitorLockRecord.name == name))


@contextmanager
def held(project: Project, name: str, *, stale_after: timedelta) -> Iterator[str | None]:
    """``with held(...) as busy:`` — ``busy`` is None when this process holds the lock inside the block
    (released after it, even on error), else the name of the holder."""
    busy = try_acquire(project, name, stale_after=stale_after)
    try:
        yield busy
    finally:
        if busy is None:
            release(project, name)
