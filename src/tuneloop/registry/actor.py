"""Who moved an alias: recorded with every promote, rollback and set."""

from __future__ import annotations

import getpass
import os

ACTOR_ENV = "TUNELOOP_ACTOR"


def current_actor(api_key_name: str | None = None) -> str:
    """``TUNELOOP_ACTOR`` when set (CI jobs, shared service accounts name the person); else the API
    key's name when acting through the server; else the OS user; else ``"unknown"``."""
    if actor := os.environ.get(ACTOR_ENV, "").strip():
        return actor
    if api_key_name:
        return api_key_name
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return "unknown"
