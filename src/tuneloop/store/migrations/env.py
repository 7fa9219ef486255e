"""Alembic environment: runs migrations on the engine tuneloop hands over (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from tuneloop.store.table_base import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
