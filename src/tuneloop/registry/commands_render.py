"""Rich renderings of the registry views and of promotion results (``registry`` verbs)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from rich.console import RenderableType
from rich.table import Table

from tuneloop.deploy import PromotionResult
from tuneloop.registry import HistoryEntry, VersionDetail, VersionDiff, VersionSummary

HASH = 12
"""Hashes are shown shortened to this many characters (``--json`` has them whole)."""


def plain(value: Any) -> Any:
    """A registry view as JSON-ready data (dataclasses become dicts; ``to_jsonable`` does the rest)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(getattr(type(value), "reference", None), property):  # ModelVersionInfo's name:V
            data["reference"] = value.reference  # type: ignore[attr-defined]
        return data
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _short(value: str | None) -> str:
    return (value or "–")[:HASH]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)[:80]
    return str(value)


def versions_table(versions: list[VersionSummary]) -> Table:
    table = Table(title="Registered versions")
    for column in ("version", "kind", "status", "aliases", "base", "run", "method", "data", "created"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            v.reference, v.kind, v.status, ", ".join(f"@{a}" for a in v.aliases) or "",
            v.base_reference, v.run or "–", v.method or "–", _short(v.dataset_digest),
            f"{v.created_at:%Y-%m-%d %H:%M}" if v.created_at else "–",
        )  # fmt: skip
    return table


def _dataset_line(dataset: dict[str, Any] | None) -> str:
    if not dataset:
        return "–"
    parts = [f"#{dataset['id']}" if dataset.get("id") is not None else "", _short(dataset.get("digest")),
             str(dataset.get("name") or ""), f"{dataset['records']} records" if dataset.get("records") else ""]  # fmt: skip
    return " ".join(p for p in parts if p)


def detail_view(detail: VersionDetail) -> list[RenderableType]:
    v = detail.version
    facts = Table(title=f"{v.reference} ({v.kind}, {v.status})", show_header=False)
    facts.add_column("field", style="bold")
    facts.add_column("value")
    run = detail.run or {}
    rows = [
        ("aliases", ", ".join(f"@{a}" for a in detail.aliases) or "–"),
        ("base", f"{v.base_reference} (weights {_short(v.base_weights_sha256)})"),
        ("chat template", _short(detail.chat_template_sha256)),
        ("dataset", _dataset_line(detail.dataset)),
        ("run", f"{run.get('name', '–')} ({run.get('method', '–')}, {run.get('status', '–')})" if run else "–"),
        ("artifact", _short(v.artifact_sha256)),
        ("environment", ", ".join(f"{k} {val}" for k, val in sorted(detail.environment.items())
                                  if not isinstance(val, dict))[:200] or "–"),
    ]  # fmt: skip
    for field, value in rows:
        facts.add_row(field, value)
    shown: list[RenderableType] = [facts]
    if detail.settings:
        settings = Table(title="Settings", show_header=False)
        settings.add_column("setting")
        settings.add_column("value")
        for key, value in sorted(detail.settings.items()):
            settings.add_row(key, _cell(value))
        shown.append(settings)
    if detail.results:
        results = Table(title="Attached results")
        for column in ("id", "kind", "suite", "passed", "primary metric", "compared with", "when"):
            results.add_column(column)
        for r in detail.results:
            results.add_row(
                str(r.id), r.kind, r.suite or "–", {True: "yes", False: "[red]no[/red]", None: "–"}[r.passed],
                f"{r.primary_metric} {_cell(r.value)}" if r.primary_metric else "–",
                ", ".join(f"{role} {ref}" for role, ref in r.compared_with.items()) or "–",
                f"{r.created_at:%Y-%m-%d %H:%M}",
            )  # fmt: skip
        shown.append(results)
    return shown


def diff_table(result: VersionDiff) -> Table:
    table = Table(title=f"{result.first} -> {result.second}")
    for column in ("section", "key", result.first, result.second):
        table.add_column(column)
    for change in result.changes:
        table.add_row(change.section, change.key, _cell(change.before), _cell(change.after))
    return table


def history_table(entries: list[HistoryEntry]) -> Table:
    table = Table(title="Alias history")
    for column in ("when", "alias", "action", "previous -> new", "actor", "reason", "forced"):
        table.add_column(column)
    for entry in entries:
        e = entry.event
        table.add_row(
            f"{e.created_at:%Y-%m-%d %H:%M:%S}", f"@{e.alias}", e.action, f"{entry.previous or '–'} -> {entry.new}",
            e.actor or "–", e.reason or "–", "[yellow]forced[/yellow]" if e.forced else "",
        )  # fmt: skip
    return table


def promotion_view(result: PromotionResult) -> list[RenderableType]:
    target = f"{result.name}@{result.alias}"
    if result.already:
        return [f"{target} already points at {result.reference}; nothing to do"]
    checks = Table(title=f"Promotion checks: {result.reference} -> @{result.alias}")
    for column in ("check", "result", "why"):
        checks.add_column(column)
    for check in result.checks:
        checks.add_row(
            check.name, "[green]passed[/green]" if check.passed else "[red]FAILED[/red]", check.reason
        )
    if result.promoted:
        forced = " [yellow](forced)[/yellow]" if result.forced else ""
        verdict = (
            f"[green]promoted[/green]{forced} {target}: {result.previous or '(new)'} -> {result.reference}"
        )
    else:
        failed = ", ".join(c.name for c in result.failed)
        verdict = f"[red]refused[/red]: {result.reference} stays off @{result.alias} (failed: {failed})"
    return [checks, verdict]
