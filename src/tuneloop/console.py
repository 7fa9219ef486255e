"""Terminal output shared by every verb: rich tables and progress bars for people, JSON for machines.

Human output goes to stderr when ``--json`` is set, so stdout carries exactly one JSON document.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tuneloop.jsonable import to_jsonable
from tuneloop.progress import SILENT, Task
from tuneloop.progress import Progress as StageProgress

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
"""The ``--json`` option every verb takes."""

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _progress_bar(*, transient: bool) -> Progress:
    """A progress bar with count, elapsed time and ETA, drawn on stderr (silence is ``SILENT``, not
    a disabled bar)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
    )


class _RichTask:
    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def advance(self, amount: float = 1, *, status: str | None = None) -> None:
        if status is None:
            self._bar.advance(self._task, amount)
        else:
            self._bar.update(self._task, advance=amount, status=status)

    def update(
        self, *, total: float | None = None, completed: float | None = None, status: str | None = None
    ) -> None:
        fields: dict[str, Any] = {} if status is None else {"status": status}
        self._bar.update(self._task, total=total, completed=completed, **fields)


class RichProgress:
    """The CLI's :class:`tuneloop.progress.Progress`: messages and bars (count, elapsed, ETA) on
    stderr, so stdout stays free for ``--json``.

    A task opened while another runs (the data check's tokenizer inside its overall bar) is drawn
    as a second line of the same display: a terminal holds one live display at a time.
    """

    def __init__(self) -> None:
        self._bar: Progress | None = None

    def info(self, message: str) -> None:
        err_console.print(message, markup=False)

    def warning(self, message: str) -> None:
        err_console.print(f"warning: {message}", markup=False, style="yellow")

    @contextmanager
    def task(
        self, description: str, total: float | None = None, *, completed: float = 0, transient: bool = True
    ) -> Iterator[Task]:
        if self._bar is not None:
            bar = self._bar
            task = bar.add_task(description, total=total, completed=int(completed), status="")
            try:
                yield _RichTask(bar, task)
            finally:
                if transient:
                    bar.remove_task(task)
            return
        with _progress_bar(transient=transient) as bar:
            self._bar = bar
            try:
                yield _RichTask(
                    bar, bar.add_task(description, total=total, completed=int(completed), status="")
                )
            finally:
                self._bar = None


def stage_progress(*, quiet: bool = False) -> StageProgress:
    """What a verb passes to its stage: bars and messages, or nothing under ``--quiet``/``--json``."""
    return SILENT if quiet else RichProgress()


def format_error(err: object) -> str:
    """One readable line per problem: ``file:line:field: code message``."""
    problems = getattr(err, "problems", None) or [err]
    lines = []
    for problem in problems:
        location = str(getattr(problem, "location", "") or "")
        code = getattr(problem, "code", "error")
        message = getattr(problem, "message", str(problem))
        lines.append(f"{location}: {message} [{code}]" if location else f"error: {message} [{code}]")
    return "\n".join(lines)
