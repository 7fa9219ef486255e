"""Tables of the foundation: pulled base models and the artifact index (migration 0001)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tuneloop.store.table_base import Base, utcnow


class BaseModelRecord(Base):
    """A base model made available locally by ``tuneloop models pull``."""

    __tablename__ = "base_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_id: Mapped[str | None] = mapped_column(String(200), index=True)
    reference: Mapped[str] = mapped_column(String(500), unique=True)
    """The reference the user gave (``base:smollm2-135m-instruct``, a directory, a hub id)."""
    local_path: Mapped[str] = mapped_column(String(2000))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    """sha256 over the safetensors weight files, in name order."""
    source: Mapped[str] = mapped_column(String(50))
    """Where the weights came from: ``bundled-gguf``, ``local-dir``, ``hf-cache``, ``hf-hub``."""
    architecture: Mapped[str | None] = mapped_column(String(200))
    num_parameters: Mapped[int | None] = mapped_column(BigInteger)
    chat_template_sha256: Mapped[str | None] = mapped_column(String(64))
    pulled_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArtifactRecord(Base):
    """An entry of the content-addressed artifact store (reports, adapters, dataset snapshots)."""

    __tablename__ = "artifacts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    """What it is: ``report-json``, ``report-html``, ``dataset``, ``adapter`` ..."""
    name: Mapped[str | None] = mapped_column(String(500))
    """A human name (e.g. the file name it was written from)."""
    media_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
