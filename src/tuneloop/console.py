"""Terminal output shared by every verb: rich tables and progress bars for people, JSON for machines.

Human output goes to stderr when ``--json`` is set, so stdout carries exactly one JSON document.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
"""The ``--json`` option every verb takes."""

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def to_jsonable(value: Any) -> Any:
    """Pydantic models, dataclasses-like objects and paths into plain JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def print_json(value: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def progress_bar(*, transient: bool = False, quiet: bool = False) -> Progress:
    """A progress bar with count, elapsed time and ETA, drawn on stderr."""
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
        disable=quiet,
    )


def track(items: Iterable[T], total: int | None, description: str, quiet: bool = False) -> Iterator[T]:
    """Iterate ``items`` with a progress bar (count, elapsed, ETA)."""
    with progress_bar(transient=True, quiet=quiet) as bar:
        task = bar.add_task(description, total=total, status="")
        for item in items:
            yield item
            bar.advance(task)


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
