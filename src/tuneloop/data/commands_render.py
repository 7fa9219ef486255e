"""The terminal summary of a data check: what was read, the key numbers, every finding, the verdict."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from tuneloop.console import console
from tuneloop.data.report import duration

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def print_summary(report: dict[str, Any], html_path: object | None = None) -> None:
    dataset, gate = report["dataset"], report["gate"]
    console.print(f"[bold]{dataset['name']}[/bold]: {dataset['records']} {dataset['kind']} records "
                  f"(digest {dataset['digest'][:12]}, goal {dataset['goal']})")  # fmt: skip
    for info in dataset["files"]:
        console.print(f"  {info['path']}: {info['format']}, {info['records']} records")
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
            balance["tag"], ", ".join(f"{k} {v}" for k, v in list(balance["distribution"].items())[:8])
        )
    if "refusal_share" in balance:
        numbers.add_row("refusals", f"{balance['refusal_share']:.1%}")
    diversity = (report.get("diversity") or {}).get("answers")
    if diversity:
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
            table.add_row(f"[{_STYLE[f['severity']]}]{f['severity']}[/]", f["check"], f["code"], f["message"])
        console.print(table)
    verdict = "[bold green]PASSED[/]" if gate["passed"] else "[bold red]FAILED[/]"
    console.print(f"gate {verdict}: {gate['errors']} errors, {gate['warnings']} warnings")
    version = report.get("dataset_version")
    if version:
        console.print(f"registered dataset version {version['id']} ({version['digest'][:12]})")
    if html_path:
        console.print(f"report: {html_path}")
