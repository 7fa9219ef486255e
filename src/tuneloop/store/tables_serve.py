"""Tables of the serving stage: API keys, the request log and feedback (migration 0005_serving).

The request log is what monitoring reads (drift, online evaluation) and what feedback attaches to;
each row names the exact version that answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tuneloop.store.table_base import Base, utcnow


class ApiKeyRecord(Base):
    """An API key of the server. Only a hash of the key is stored; the key is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    """The key's first characters, to recognise it in lists and logs without revealing it."""
    models: Mapped[list[Any] | None] = mapped_column(JSON)
    """Model names this key may call (``support``, ``base:smollm2-135m-instruct``); None: all."""
    can_feedback: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether the key may send ``POST /v1/feedback``."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class RequestLogRecord(Base):
    """One served request and its answer."""

    __tablename__ = "request_log"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The response id returned to the client (``chatcmpl-…``, ``cmpl-…``); feedback names it."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    endpoint: Mapped[str] = mapped_column(String(50))
    """``chat.completions`` or ``completions``."""
    model_requested: Mapped[str] = mapped_column(String(500))
    model_name: Mapped[str] = mapped_column(String(500), index=True)
    """The registered model name (or base reference) that answered."""
    model_reference: Mapped[str] = mapped_column(String(500))
    """The exact version that answered (``support:3``)."""
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), index=True)
    alias: Mapped[str | None] = mapped_column(String(100))
    api_key_name: Mapped[str | None] = mapped_column(String(200))
    status_code: Mapped[int] = mapped_column(Integer)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[float] = mapped_column(Float)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The messages (or prompt) and sampling settings, PII-redacted when the server is told to."""
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The choices' texts and finish reasons."""
    error: Mapped[str | None] = mapped_column(Text)


class FeedbackRecord(Base):
    """A rating and/or a corrected answer attached to a logged response."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("request_log.id"), index=True)
    rating: Mapped[float | None] = mapped_column(Float)
    corrected_answer: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    api_key_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
