"""Store: migrations reach the metadata's schema on SQLite (WAL) and PostgreSQL; artifacts are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from tuneloop.store import ArtifactStore, Base, BaseModelRecord, Store, sha256_bytes
from tuneloop.store.db import current_revision, head_revision


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = _sqlite(tmp_path) if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    store = Store(url)
    yield store
    store.dispose()


def test_migrations_reach_metadata(store: Store) -> None:
    store.migrate()
    assert current_revision(store.engine) == head_revision(store.engine)
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    assert current_revision(store.engine) == head_revision(store.engine)


def test_transaction_rolls_back_on_error(store: Store) -> None:
    store.migrate()
    with pytest.raises(RuntimeError), store.session() as session:
        session.add(
            BaseModelRecord(reference="base:x", local_path="/x", weights_sha256="0" * 64, source="local-dir")
        )
        session.flush()
        raise RuntimeError("crash mid-transaction")
    with store.session() as session:
        assert session.scalars(select(BaseModelRecord)).all() == []


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = Store(_sqlite(tmp_path))
    store.migrate()
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.dispose()


def test_artifact_store_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    artifacts = ArtifactStore(tmp_path / "artifacts")
    sha = artifacts.put_bytes(b"report")
    assert sha == sha256_bytes(b"report")
    path = artifacts.blob_path(sha)
    mtime = path.stat().st_mtime_ns
    assert artifacts.put_bytes(b"report") == sha
    assert path.stat().st_mtime_ns == mtime  # second write of the same bytes is a no-op
    assert artifacts.get_bytes(sha) == b"report"
    assert not list(path.parent.glob("*.tmp"))


def test_artifact_tree_roundtrip(tmp_path: Path) -> None:
    source = tmp_path / "adapter"
    (source / "sub").mkdir(parents=True)
    (source / "a.bin").write_bytes(b"a")
    (source / "sub" / "b.json").write_text("{}")
    artifacts = ArtifactStore(tmp_path / "artifacts")
    sha = artifacts.put_tree(source)
    assert artifacts.put_tree(source) == sha
    assert (artifacts.tree_path(sha) / "sub" / "b.json").read_text() == "{}"


def test_atomic_write_keeps_old_file_when_writer_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneloop.store import artifacts as module

    target = tmp_path / "out.txt"
    target.write_text("old")

    def broken_fsync(_fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(module.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        module.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_project_records_artifacts(project_dir: Path) -> None:
    from tuneloop.project import Project
    from tuneloop.store import ArtifactRecord

    project = Project.open()
    sha = project.record_artifact(b"<html></html>", "report-html", "r.html")
    assert project.record_artifact(b"<html></html>", "report-html", "r.html") == sha
    with project.store.session() as session:
        record = session.get(ArtifactRecord, sha)
        assert record.kind == "report-html"
        assert record.media_type == "text/html"


def test_database_url_env_overrides_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneloop.store import database_url

    monkeypatch.delenv("TUNELOOP_DB_URL", raising=False)
    assert database_url(tmp_path) == f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("TUNELOOP_DB_URL", "postgresql+psycopg://u@h/db")
    assert database_url(tmp_path) == "postgresql+psycopg://u@h/db"
