"""The terminal summary of a data check: what was read, the key numbers, every finding, the verdict."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tuneloop.console import console
from tuneloop.data.report import duration
from tuneloop.findings import MAX_ITEMS

LOCATIONS = 3
"""File:line locations shown per finding on the terminal (all of them are in --json and the HTML report)."""
_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def locations(finding: dict[str, Any], limit: int = LOCATIONS) -> str:
    """``at a.jsonl:3, a.jsonl:9 (+4 more)``: where a finding's records are, for the terminal.

    Empty when the finding names no records, or when its message already starts with its one location
    (loading warnings)."""
    places = [f"{i['file']}:{i['line']}" for i in finding.get("items") or [] if "file" in i and "line" in i]
    places = list(dict.fromkeys(places))
    if not places or (len(places) == 1 and finding["message"].startswith(places[0])):
        return ""
    # items stop at MAX_ITEMS; the count says how many there are in all
    total = max(len(places), finding.get("count") or 0) if len(places) >= MAX_ITEMS else len(places)
    more = total - min(limit, len(places))
    return "at " + ", ".join(places[:limit]) + (f" (+{more} more)" if more > 0 else "")


def print_summary(report: dict[str, Any], html_path: object | None = None) -> None:
    dataset, gate = report["dataset"], report["gate"]
    # Names, paths, tags and labels come from the user's files: escaped, so "[/]" prints as text.
    console.print(f"[bold]{escape(dataset['name'])}[/bold]: {dataset['records']} {dataset['kind']} records "
                  f"(digest {dataset['digest'][:12]}, goal {dataset['goal']})")  # fmt: skip
    for info in dataset["files"]:
        console.print(f"  {escape(str(info['path']))}: {info['format']}, {info['records']} records")
    numbers = Table(show_header=False, box=None, padding=(0, 2))
    tokens = report.get("tokens")
    if tokens:
        t = tokens["tokens"]
        numbers.add_row(
            "tokens/example",
            f"min {t['min']:.0f}  p5 {t['p5']:.0f}  median {t['median']:.0f}  p95 {t['p95']:.0f}  max {t['max']:.0f}",
        )
        numbers.add_row("assistant share", f"{tokens['assistant_token_share']:.1%} of tokens are trained on")
        numbers.add_row(
            "over max length",
            f"{tokens['overlength']} (> {tokens['max_length']} tokens, policy {tokens['policy']})",
        )
    dups = report.get("duplicates") or {}
    numbers.add_row(
        "duplicates",
        f"{dups.get('exact', 0)} exact, {dups.get('near', 0)} near ({dups.get('removable_share', 0):.1%})",
    )
    conflicts = report.get("conflicts") or {}
    numbers.add_row("conflicts", f"{conflicts.get('groups', 0)} groups")
    balance = report.get("balance") or {}
    if "distribution" in balance:
        numbers.add_row(
            Text(balance["tag"]),
            Text(", ".join(f"{k} {v}" for k, v in list(balance["distribution"].items())[:8])),
        )
    if "refusal_share" in balance:
        numbers.add_row("refusals", f"{balance['refusal_share']:.1%}")
    labels = report.get("labels")
    if labels:
        numbers.add_row(
            "labels",
            Text(
                f"{labels['labels']} (commonest {labels['commonest']['label']} {labels['commonest']['count']}, "
                f"rarest {labels['rarest']['label']} {labels['rarest']['count']})"
            ),
        )
    diversity = (report.get("diversity") or {}).get("answers")
    if diversity and "distinct_2" in diversity:
        numbers.add_row(
            "answer diversity",
            f"distinct-2 {diversity['distinct_2']:.2f}, compression {diversity['compression_ratio']:.1f}x",
        )
    clusters = (report.get("diversity") or {}).get("clusters")
    if clusters:
        numbers.add_row(
            "topic clusters",
            f"{clusters['clusters']} (largest {clusters['largest_share']:.0%}, entropy {clusters['entropy']:.2f})",
        )
    for key, label in (
        ("production_match", "production uncovered"),
        ("contamination", "holdout contaminated"),
    ):
        section = report.get(key)
        if section:
            share = section.get("uncovered_share", section.get("share", 0.0))
            numbers.add_row(label, f"{share:.0%}")
    sensitive = report.get("sensitive")
    if sensitive is not None:
        numbers.add_row(
            "PII / secrets", ", ".join(f"{k} {v}" for k, v in sensitive["by_kind"].items()) or "none found"
        )
    estimate = report.get("estimate")
    if estimate:
        numbers.add_row(
            "tokens processed", f"{estimate['trained_tokens']:,.0f} ({estimate['epochs']:g} epochs)"
        )
        if "cpu_seconds" in estimate:
            numbers.add_row(
                "time on this CPU",
                f"{duration(estimate['cpu_seconds'])} (measured {estimate['cpu_tokens_per_second']:.0f} tokens/s)",
            )
        for gpu in estimate.get("gpus", [])[:2]:
            numbers.add_row(f"time on {gpu['gpu']}", f"{duration(gpu['seconds'])} (from stated assumptions)")
    console.print(numbers)
    findings = report["findings"]
    if findings:
        table = Table(title="findings", show_lines=False)
        for column in ("severity", "check", "code", "message"):
            table.add_column(column, overflow="fold")
        for f in findings:
            message = Text(f["message"])
            where = locations(f)
            if where:
                message.append(f"\n{where}", style="dim")
            table.add_row(
                f"[{_STYLE[f['severity']]}]{f['severity']}[/]", Text(f["check"]), Text(f["code"]), message
            )
        console.print(table)
    verdict = "[bold green]PASSED[/]" if gate["passed"] else "[bold red]FAILED[/]"
    console.print(f"gate {verdict}: {gate['errors']} errors, {gate['warnings']} warnings")
    version = report.get("dataset_version")
    if version:
        console.print(f"registered dataset version {version['id']} ({version['digest'][:12]})")
    if html_path:
        console.print(f"report: {escape(str(html_path))}")
