"""How a stage reports progress to whoever called it, without knowing who that is.

A stage function takes ``progress: Progress = SILENT`` and reports through it: lines a person
should read (``info``, ``warning``) and long work as tasks with a total (``task``). The CLI passes a
rich implementation (``tuneloop.console.RichProgress``: bars with ETA on stderr), a server or a
scheduler passes its own (a log, an events table), tests pass :class:`RecordingProgress`. Stages
never print, never import the CLI layer, and never take ``quiet`` flags: silence is ``SILENT``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

T = TypeVar("T")


class Task(Protocol):
    """One piece of long work with a known (or unknown) size."""

    def advance(self, amount: float = 1, *, status: str | None = None) -> None:
        """``amount`` more units done; ``status`` is a short live figure (``"312 tok/s"``)."""

    def update(
        self, *, total: float | None = None, completed: float | None = None, status: str | None = None
    ) -> None:
        """Change the size, the position or the live figure."""


class Progress(Protocol):
    """What a stage may tell its caller while it works."""

    def info(self, message: str) -> None:
        """A line a person should read (plain text, no markup)."""

    def warning(self, message: str) -> None:
        """A line about something that went wrong but did not stop the work."""

    def task(
        self, description: str, total: float | None = None, *, completed: float = 0, transient: bool = True
    ) -> AbstractContextManager[Task]:
        """Long work: a bar with count and ETA on a terminal. ``transient`` bars vanish when done."""


class _NullTask:
    def advance(self, amount: float = 1, *, status: str | None = None) -> None:
        return None

    def update(
        self, *, total: float | None = None, completed: float | None = None, status: str | None = None
    ) -> None:
        return None


class SilentProgress:
    """Reports nothing: the default of every stage function."""

    def info(self, message: str) -> None:
        return None

    def warning(self, message: str) -> None:
        return None

    @contextmanager
    def task(
        self, description: str, total: float | None = None, *, completed: float = 0, transient: bool = True
    ) -> Iterator[Task]:
        yield _NullTask()


SILENT: Progress = SilentProgress()
"""The shared silent reporter."""


@dataclass
class RecordedTask:
    description: str
    total: float | None
    completed: float = 0
    status: str | None = None
    finished: bool = False

    def advance(self, amount: float = 1, *, status: str | None = None) -> None:
        self.completed += amount
        if status is not None:
            self.status = status

    def update(
        self, *, total: float | None = None, completed: float | None = None, status: str | None = None
    ) -> None:
        if total is not None:
            self.total = total
        if completed is not None:
            self.completed = completed
        if status is not None:
            self.status = status


@dataclass
class RecordingProgress:
    """Keeps every message and task, for tests and for callers that show them later (a server's
    job log)."""

    messages: list[tuple[str, str]] = field(default_factory=list)
    """(level, text) in the order they came."""
    tasks: list[RecordedTask] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.messages.append(("info", message))

    def warning(self, message: str) -> None:
        self.messages.append(("warning", message))

    @contextmanager
    def task(
        self, description: str, total: float | None = None, *, completed: float = 0, transient: bool = True
    ) -> Iterator[Task]:
        task = RecordedTask(description, total, completed)
        self.tasks.append(task)
        try:
            yield task
        finally:
            task.finished = True


def tracked(progress: Progress, items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
    """Iterate ``items`` as one task of ``progress``."""
    with progress.task(description, total) as task:
        for item in items:
            yield item
            task.advance()
