"""Rendering of ``tuneloop keys``: a rich table and the ``--json`` shape of a key."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from tuneloop.serve.keys import ApiKeyInfo


def key_dict(info: ApiKeyInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "prefix": info.prefix,
        "models": list(info.models) if info.models is not None else None,
        "can_feedback": info.can_feedback,
        "created_at": info.created_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
    }


def keys_table(keys: list[ApiKeyInfo]) -> Table:
    table = Table(title="API keys")
    for column in ("name", "prefix", "models", "feedback", "created", "state"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.name,
            f"{key.prefix}…",
            ", ".join(key.models) if key.models is not None else "all",
            "yes" if key.can_feedback else "no",
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            "revoked" if key.revoked else "active",
        )
    return table
