"""On-disk cache of generations and judge verdicts, keyed on what determines the output.

A key is the sha256 of (model identity, rendered prompt, generation settings) — see
:func:`generation_key` — so re-evaluating the same model on the same items with the same settings
never generates twice, and a changed prompt, adapter or setting never returns a stale answer.
One SQLite file under the project's ``.tuneloop/cache/`` holds the entries: it is safe for several
processes at once (WAL) and can be deleted at any time (it is rebuildable).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from tuneloop.store import sha256_bytes

CACHE_FILENAME = "evaluate-cache.sqlite"


def cache_key(namespace: str, *parts: Any) -> str:
    """Stable sha256 over a namespace and JSON-serialisable parts."""
    payload = json.dumps([namespace, *parts], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return sha256_bytes(payload.encode("utf-8"))


class GenerationCache:
    """A persistent key -> JSON value map (one SQLite table)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_directory(cls, directory: Path) -> GenerationCache:
        return cls(directory / CACHE_FILENAME)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            connection.commit()
            self._connection = connection
        return self._connection

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The cached values of those ``keys`` that are present."""
        found: dict[str, Any] = {}
        with self._lock:
            connection = self._connect()
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = connection.execute(f"SELECT key, value FROM entries WHERE key IN ({marks})", chunk)
                found.update({key: json.loads(value) for key, value in rows})
        self.hits += len(found)
        self.misses += len(set(keys)) - len(found)
        return found

    def get(self, key: str) -> Any | None:
        return self.get_many([key]).get(key)

    def put_many(self, entries: dict[str, Any]) -> None:
        """Store entries in one transaction (all or nothing)."""
        if not entries:
            return
        rows = [(key, json.dumps(value, ensure_ascii=False)) for key, value in entries.items()]
        with self._lock:
            connection = self._connect()
            with connection:
                connection.executemany("INSERT OR REPLACE INTO entries (key, value) VALUES (?, ?)", rows)

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})

    def __len__(self) -> int:
        with self._lock:
            return int(self._connect().execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
