"""API keys of the server (``tuneloop keys create|list|revoke``): stored hashed, shown once.

A key is ``tl-`` plus 32 random bytes (URL-safe base64). The store keeps its sha256 and a short prefix
(to recognise it in lists), never the key. A key may be scoped to model names and may be denied
feedback; a revoked key is refused from the next request on (keys are looked up on every request).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tuneloop.errors import InvalidInput, NotFound
from tuneloop.project import Project
from tuneloop.serve.routing import check_servable_name, registered_name_of
from tuneloop.store import ApiKeyRecord, utcnow

KEY_PREFIX = "tl-"
_PREFIX_CHARS = 10


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key as the server and ``keys list`` see it (never the secret)."""

    name: str
    prefix: str
    models: tuple[str, ...] | None
    """Model names this key may call; None: every model."""
    can_feedback: bool
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def may_call(self, model_name: str) -> bool:
        """Whether a request for ``model_name`` is in scope: the exact name, or its registered model
        name (a key scoped to ``support`` may call ``support@production`` and ``support:3``)."""
        if self.models is None:
            return True
        return model_name in self.models or registered_name_of(model_name) in self.models

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyInfo:
        return cls(
            name=record.name,
            prefix=record.prefix,
            models=None if record.models is None else tuple(str(m) for m in record.models),
            can_feedback=record.can_feedback,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
        )


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    project: Project, name: str, *, models: list[str] | None = None, can_feedback: bool = True
) -> tuple[ApiKeyInfo, str]:
    """Create a key; returns its info and the secret, which is shown this once and never stored."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("invalid_key_name", "a key name must be 1 to 200 characters")
    scopes = None if not models else [check_servable_name(m, param="--model") for m in models]
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with project.store.session() as session:
        if session.scalars(select(ApiKeyRecord).where(ApiKeyRecord.name == name)).one_or_none():
            raise InvalidInput(
                "key_exists", f"an API key named '{name}' exists; revoke it or pick another name"
            )
        record = ApiKeyRecord(
            name=name,
            key_sha256=hash_key(secret),
            prefix=secret[:_PREFIX_CHARS],
            models=scopes,
            can_feedback=can_feedback,
        )
        session.add(record)
        session.flush()
        return ApiKeyInfo.of(record), secret


def list_keys(project: Project, *, include_revoked: bool = True) -> list[ApiKeyInfo]:
    with project.store.session() as session:
        query = select(ApiKeyRecord).order_by(ApiKeyRecord.id)
        if not include_revoked:
            query = query.where(ApiKeyRecord.revoked_at.is_(None))
        return [ApiKeyInfo.of(r) for r in session.scalars(query)]


def revoke_key(project: Project, name: str) -> ApiKeyInfo:
    """Revoke the key ``name``: refused from the next request on. Revoking twice is harmless."""
    with project.store.session() as session:
        record = session.scalars(select(ApiKeyRecord).where(ApiKeyRecord.name == name)).one_or_none()
        if record is None:
            raise NotFound("unknown_key", f"no API key named '{name}'; see `tuneloop keys list`")
        if record.revoked_at is None:
            record.revoked_at = utcnow()
        return ApiKeyInfo.of(record)


def authenticate(project: Project, secret: str) -> ApiKeyInfo | None:
    """The key behind ``secret``, or None when it is unknown or revoked."""
    if not secret.startswith(KEY_PREFIX):
        return None
    with project.store.session() as session:
        record = session.scalars(
            select(ApiKeyRecord).where(ApiKeyRecord.key_sha256 == hash_key(secret))
        ).one_or_none()
        if record is None or record.revoked_at is not None:
            return None
        return ApiKeyInfo.of(record)
