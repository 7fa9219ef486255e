"""What a data check concludes: findings with a severity, and the gate they decide.

An ``error`` finding fails the gate (exit code 1), a ``warning`` is shown but passes, ``info`` is
context. Each finding names its check and a stable code, and lists up to :data:`MAX_ITEMS` examples
(with file and line) behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tuneloop.data.records import Record

MAX_ITEMS = 50
Severity = Literal["error", "warning", "info"]


@dataclass
class Finding:
    check: str
    code: str
    severity: Severity
    message: str
    count: int | None = None
    items: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "count": self.count,
            "items": self.items[:MAX_ITEMS],
        }


def where(record: Record) -> dict[str, Any]:
    return {"file": record.source.file, "line": record.source.line}
