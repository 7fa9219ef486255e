"""Terminal tables of evaluation results (the HTML report has the full detail): part of the CLI
layer, the only evaluation module that draws with rich."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table

from tuneloop.evaluate.defaults import DefaultSuitesResult

SHORT_VERDICT = {"no significant difference": "n.s."}


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def comparison_tables(data: dict[str, Any]) -> list[Table]:
    """One table per (candidate, baseline) pair, or per candidate when it has no baseline."""
    tables = []
    alpha = data["alpha"]
    for plan in data["candidates"]:
        candidate = plan["reference"]
        summary = data["models"][candidate]["summary"]
        if not plan["baselines"]:
            table = Table(title=f"{data['suite']['name']}: {candidate} ({len(data['items'])} items)")
            for column in ("metric", "mean", "n", "failures"):
                table.add_column(column)
            for name, info in summary.items():
                table.add_row(name, _num(info["mean"]), str(info["n"]), str(info["failures"] or ""))
            tables.append(table)
            continue
        for role, baseline in plan["baselines"].items():
            compared = [c for c in data["comparisons"] if c["candidate"] == candidate and c["role"] == role]
            title = f"{data['suite']['name']}: {candidate} vs {role} ({baseline}), {len(data['items'])} items"
            table = Table(
                title=title, caption=f"paired tests at α = {alpha}; n.s. = no significant difference"
            )
            for column in ("metric", "cand.", "base.", "Δ", f"{1 - alpha:.0%} CI", "p", "W/T/L", "verdict"):
                table.add_column(column, no_wrap=column != "metric")
            for c in compared:
                failures = c["candidate_failures"] + c["baseline_failures"]
                verdict = "unreliable" if c["unreliable"] else SHORT_VERDICT.get(c["verdict"], c["verdict"])
                style = {"better": "green", "worse": "red", "unreliable": "yellow"}.get(verdict, "")
                table.add_row(
                    c["metric"] + (f" ({failures} failed)" if failures else ""),
                    _num(c["candidate_mean"]),
                    _num(c["baseline_mean"]) if not c["pairwise"] else "0.500",
                    f"{c['delta']:+.3f}",
                    f"{c['ci'][0]:+.3f}..{c['ci'][1]:+.3f}",
                    f"{c['p_value']:.2g}",
                    f"{c['wins']}/{c['ties']}/{c['losses']}",
                    f"[{style}]{verdict}[/{style}]" if style else verdict,
                )
            tables.append(table)
    return tables


def gate_lines(data: dict[str, Any], candidate: str | None = None) -> list[str]:
    """One rich-markup line per gate."""
    lines = []
    for gate in data["gates"]:
        if candidate is not None and gate["candidate"] != candidate:
            continue
        style = {"passed": "green", "failed": "red", "skipped": "yellow"}[gate["status"]]
        lines.append(f"[{style}]gate {gate['status']}[/{style}] {gate['rule']}: {gate['reason']}")
    return lines


def print_report(console: Console, data: dict[str, Any], html_path: object, ids: list[int]) -> None:
    for table in comparison_tables(data):
        console.print(table)
    for line in gate_lines(data):
        console.print(line, highlight=False)
    suffix = f"  (evaluation {', '.join(map(str, ids))})" if ids else ""
    console.print(f"report: {html_path}{suffix}", highlight=False)


def default_suites_table(result: DefaultSuitesResult) -> Table:
    """The post-training evaluation as one table: suite, metric, candidate, baseline, Δ, CI, p, verdict."""
    table = Table(title=f"evaluation of {result.candidate} (* primary metric)")
    for column in ("suite", "metric", "candidate", "baseline", "Δ", "CI", "p", "verdict"):
        table.add_column(column)
    for row in result.rows():
        table.add_row(*row)
    return table


def default_suites_text(result: DefaultSuitesResult) -> str:
    """The table (and gate lines, report paths) as plain text, for the training command to print."""
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(default_suites_table(result))
    for outcome in result.outcomes:
        if outcome.recorded is None:
            continue
        for gate in outcome.recorded.data["gates"]:
            if gate["candidate"] == result.candidate and gate["status"] != "skipped":
                console.print(
                    f"gate {gate['status']}: [{outcome.suite}] {gate['rule']} — {gate['reason']}",
                    markup=False,
                )
        console.print(f"report: {outcome.recorded.html_file}", markup=False)
    return console.export_text()
