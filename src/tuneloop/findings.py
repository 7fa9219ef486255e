"""What a check concludes: one ``Finding`` type for every stage (data checks, the training
pre-flight, the "did it learn" verdict, red-team and monitoring checks).

An ``error`` finding fails the check's gate (exit code 1) or refuses the run, a ``warning`` is shown
but passes, ``info`` is context. Each finding names its check and a stable code, and may list up to
:data:`MAX_ITEMS` examples behind it (with file and line where they come from a file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

MAX_ITEMS = 50
Severity = Literal["error", "warning", "info"]


@dataclass
class Finding:
    check: str
    """The check that produced it (``duplicates``, ``preflight``, ``verdict``, ...)."""
    code: str
    """Stable, machine-readable (``exact_duplicates``, ``undertrained``, ...)."""
    severity: Severity
    message: str
    """One plain sentence for a person."""
    count: int | None = None
    """How many things it concerns, where that is a count."""
    items: list[dict[str, Any]] = field(default_factory=list)
    """Examples behind it (at most MAX_ITEMS are serialised)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "count": self.count,
            "items": self.items[:MAX_ITEMS],
        }
