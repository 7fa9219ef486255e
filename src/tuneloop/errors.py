"""Errors that carry a stable code, a message and a location, and the CLI's exit codes.

Every stage raises :class:`TuneloopError` (or a subclass) for anything a user can fix; the CLI turns
it into one readable line ``file:line:field: code message`` and the matching exit code, never a
traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes shared by every verb (see DESIGN.md)."""

    OK = 0
    CHECK_FAILED = 1
    INVALID_INPUT = 2
    INTERNAL = 3


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file, optionally a 1-based line, optionally a field path."""

    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = [p for p in (self.file, None if self.line is None else str(self.line), self.field) if p]
        return ":".join(parts)


class TuneloopError(Exception):
    """A problem the user can act on. ``exit_code`` decides what the CLI returns."""

    exit_code: ExitCode = ExitCode.INVALID_INPUT

    def __init__(self, code: str, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.location = location

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location and str(self.location) else ""
        return f"{where}{self.message}"

    def to_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "code": self.code,
            "message": self.message,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "field": loc.field if loc else None,
        }


class InvalidInput(TuneloopError):
    """Bad input or usage: exit code 2."""

    exit_code = ExitCode.INVALID_INPUT


class CheckFailed(TuneloopError):
    """A check or gate ran and failed: exit code 1."""

    exit_code = ExitCode.CHECK_FAILED


class NotFound(InvalidInput):
    """A referenced thing (model, dataset, run, file) does not exist."""


class ConfigError(InvalidInput):
    """One or more problems in a config file; ``problems`` holds each one with its location."""

    def __init__(self, problems: list[TuneloopError]) -> None:
        first = problems[0]
        super().__init__(first.code, first.message, first.location)
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "problems": [p.to_dict() for p in self.problems]}
