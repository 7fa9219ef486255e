"""Verbs ``tuneloop eval run|score|baseline|gate|show|list|compare|metrics``: each parses its options,
calls one stage function (:mod:`tuneloop.evaluate.workflow`, which records what it runs), renders the
result and picks the exit code.

Heavy modules (torch, transformers, the runner) load inside the verbs so ``tuneloop --help`` stays fast.
A failed gate prints its report and exits 1; bad input exits 2 with ``file:line`` and no traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tuneloop.console import JsonFlag, console, err_console, print_json, stage_progress

SuiteOption = Annotated[
    str, typer.Option("--suite", "-s", help="Suite file, suite name from eval.suites, or builtin:general.")
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Generate again instead of reusing cached answers.")
]
Limit = Annotated[int | None, typer.Option(min=1, help="Only the first N items (a quick run).")]
OutPath = Annotated[
    Path | None, typer.Option("--out", help="Also write the report to OUT.json and OUT.html.")
]


def _project() -> Any:
    from tuneloop.project import Project

    return Project.open()


def _print_run(data: dict[str, Any], html_path: Path, ids: list[int]) -> None:
    from tuneloop.evaluate.commands_render import print_report

    print_report(console, data, html_path, ids)


def run(
    suite: SuiteOption,
    model: Annotated[
        list[str], typer.Option("--model", "-m", help="Candidate model reference (repeatable).")
    ],
    baseline: Annotated[
        list[str] | None, typer.Option("--baseline", "-b", help="Extra baseline reference (repeatable).")
    ] = None,
    no_baselines: Annotated[
        bool,
        typer.Option("--no-baselines", help="Skip the automatic foundation/parent/production baselines."),
    ] = False,
    limit: Limit = None,
    no_cache: NoCache = False,
    out: OutPath = None,
    json_output: JsonFlag = False,
) -> None:
    """Evaluate models on a suite against their baselines (foundation, parent, production), with paired stats."""
    from tuneloop.evaluate import workflow

    recorded = workflow.run(
        _project(),
        suite,
        model,
        baselines=baseline or [],
        automatic_baselines=not no_baselines,
        use_cache=False if no_cache else None,
        limit=limit,
        copy_to=out,
        progress=stage_progress(quiet=json_output),
    )
    if json_output:
        print_json(
            {
                "ok": True,
                "evaluation_ids": [e.id for e in recorded.evaluations],
                "report_html": str(recorded.html_file),
                "report": recorded.data,
            }
        )
        return
    _print_run(recorded.data, recorded.html_file, [e.id for e in recorded.evaluations])


def _parse_option(raw: str) -> tuple[str, Any]:
    from ruamel.yaml import YAML

    from tuneloop.errors import InvalidInput

    key, sep, value = raw.partition("=")
    if not sep or not key:
        raise InvalidInput("invalid_option", f"--option takes key=value, got {raw!r}")
    return key.strip(), YAML(typ="safe").load(value) if value.strip() else ""


def score(
    outputs: Annotated[
        Path, typer.Option("--outputs", "-o", help="JSONL of {prompt|messages, completion[, reference]}.")
    ],
    suite: Annotated[
        str | None, typer.Option("--suite", "-s", help="Score with this suite's metrics (and references).")
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Score with one metric instead of a suite.")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="Metric option key=value (repeatable).")
    ] = None,
    baseline_outputs: Annotated[
        Path | None,
        typer.Option("--baseline-outputs", help="Second outputs file to compare with (paired by prompt)."),
    ] = None,
    out: OutPath = None,
    json_output: JsonFlag = False,
) -> None:
    """Score answers produced elsewhere (an outgoing model, production logs) without generating."""
    from tuneloop.evaluate import workflow
    from tuneloop.project import Project

    scored = workflow.score(
        Project.open_optional(),
        outputs,
        suite=suite,
        metric=metric,
        metric_options=dict(_parse_option(o) for o in option or []),
        baseline_outputs=baseline_outputs,
        copy_to=out,
    )
    data, html_path, ids = scored.data, scored.html_file, scored.evaluation_ids
    failed = scored.passed is False
    if json_output:
        print_json({"ok": not failed, "evaluation_ids": ids, "report_html": str(html_path), "report": data})
    else:
        _print_run(data, html_path, ids)
    if failed:
        raise typer.Exit(1)


def baseline(
    suite: SuiteOption,
    few_shot: Annotated[
        list[int] | None,
        typer.Option("--few-shot", "-k", min=0, help="Shot counts to try (repeatable); default the suite's."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model to check (default: the project's base model).")
    ] = None,
    target: Annotated[
        float | None, typer.Option(help="Primary-metric score at which the task already works.")
    ] = None,
    limit: Limit = None,
    no_cache: NoCache = False,
    json_output: JsonFlag = False,
) -> None:
    """Fit check before training: does the foundation model already do the task with the project's prompt?"""
    from tuneloop.evaluate import workflow

    recorded = workflow.baseline(
        _project(),
        suite,
        few_shot=few_shot,
        model=model,
        target=target,
        limit=limit,
        use_cache=False if no_cache else None,
        progress=stage_progress(quiet=json_output),
    )
    check, info, html_file = recorded.check, recorded.evaluation, recorded.html_file
    if json_output:
        print_json({"ok": True, "evaluation_id": info.id, "report_html": str(html_file), **check.to_dict()})
        return
    table = Table(title=f"fit check: {check.model} on {recorded.suite} ({len(check.run.items)} items)")
    for column in ("prompting", check.primary_metric, "CI", "vs 0-shot"):
        table.add_column(column)
    for label, variant in check.variants.items():
        compared = [
            c
            for c in check.run.comparisons
            if c.candidate == variant["model"] and c.metric == check.primary_metric
        ]
        vs = (
            f"{compared[0].comparison.delta:+.3f} ({compared[0].comparison.verdict}, p = {compared[0].comparison.p_value:.3g})"
            if compared
            else ""
        )
        ci = f"[{variant['ci'][0]:.3f}, {variant['ci'][1]:.3f}]" if variant["ci"] else ""
        table.add_row(label, f"{variant['mean']:.3f}" if variant["mean"] is not None else "–", ci, vs)
    console.print(table)
    console.print(check.verdict)
    console.print(f"report: {html_file}  (evaluation {info.id})")


def gate(
    model: Annotated[str, typer.Option("--model", "-m", help="Candidate to gate.")],
    suite: Annotated[
        list[str] | None,
        typer.Option("--suite", "-s", help="Suites (repeatable); default: the default suites."),
    ] = None,
    limit: Limit = None,
    no_cache: NoCache = False,
    json_output: JsonFlag = False,
) -> None:
    """Apply the regression gates; exit 1 when one fails. Results are attached to the model version."""
    from tuneloop.evaluate import workflow

    outcome = workflow.gate(
        _project(),
        model,
        suites=suite,
        limit=limit,
        use_cache=False if no_cache else None,
        progress=stage_progress(quiet=json_output),
    )
    outcomes, gates, failed = outcome.runs, outcome.gates, outcome.failed
    if json_output:
        print_json(
            {
                "ok": not failed,
                "passed": not failed,
                "gates": gates,
                "evaluation_ids": [e.id for o in outcomes for e in o.evaluations],
                "reports": [str(o.html_file) for o in outcomes],
            }
        )
    else:
        for recorded in outcomes:
            _print_run(recorded.data, recorded.html_file, [e.id for e in recorded.evaluations])
        if not gates:
            err_console.print("no gates apply: add `gates:` to the suite or eval.gates in tuneloop.yaml")
        verdict = "[red]FAILED[/red]" if failed else "[green]passed[/green]"
        console.print(f"gates {verdict}: {len(gates) - len(failed)} of {len(gates)} passed or skipped")
    if failed:
        raise typer.Exit(1)


def show(
    evaluation_id: Annotated[int, typer.Argument(help="Evaluation id (see `tuneloop eval list`).")],
    json_output: JsonFlag = False,
) -> None:
    """Show a stored evaluation: its summary table, gates and report path."""
    from tuneloop.evaluate import workflow

    found = workflow.stored(_project(), evaluation_id)
    info, data, html_path = found.info, found.data, found.html_file
    if json_output:
        print_json(
            {
                "ok": True,
                "evaluation": info.__dict__ | {"created_at": info.created_at.isoformat()},
                "report_html": str(html_path),
                "report": data,
            }
        )
        return
    console.print(
        f"evaluation {info.id} ({info.kind}) of {info.model_reference} on {info.suite}, {info.created_at:%Y-%m-%d %H:%M}"
    )
    if "fit_check" in data:
        console.print(data["fit_check"]["verdict"])
    _print_run(data, html_path, [])


def list_evaluations(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model reference.")] = None,
    suite: Annotated[str | None, typer.Option("--suite", "-s", help="Only this suite name.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """List stored evaluations, gates, scorings and fit checks."""
    from tuneloop.evaluate.evaluations import list_evaluations as stored

    results = stored(_project(), model=model, suite=suite)
    if json_output:
        print_json([r.__dict__ | {"created_at": r.created_at.isoformat()} for r in results])
        return
    table = Table(title=f"evaluations ({len(results)})")
    for column in ("id", "kind", "model", "suite", "primary", "gates", "created"):
        table.add_column(column)
    for r in results:
        primary = r.summary.get("primary_metric")
        value = (r.summary.get("metrics") or {}).get(primary)
        shown = f"{primary} {value:.3f}" if isinstance(value, float) else (r.summary.get("verdict", "")[:40])
        passed = "" if r.passed is None else ("passed" if r.passed else "FAILED")
        table.add_row(
            str(r.id),
            r.kind,
            r.model_reference,
            r.suite or "",
            shown,
            passed,
            f"{r.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def compare(
    first: Annotated[int, typer.Argument(help="Earlier evaluation id (the baseline).")],
    second: Annotated[int, typer.Argument(help="Later evaluation id (compared against the first).")],
    json_output: JsonFlag = False,
) -> None:
    """Compare two stored evaluations item by item (the second's model against the first's)."""
    from tuneloop.evaluate.evaluations import compare_evaluations, get_evaluation

    project = _project()
    diffs = compare_evaluations(project, first, second)
    a, b = get_evaluation(project, first), get_evaluation(project, second)
    if json_output:
        print_json(
            {
                "ok": True,
                "first": {"id": a.id, "model": a.model_reference},
                "second": {"id": b.id, "model": b.model_reference},
                "metrics": [
                    {
                        "metric": d.metric,
                        **d.comparison.to_dict(),
                        "only_in_first": d.only_in_first,
                        "only_in_second": d.only_in_second,
                    }
                    for d in diffs
                ],
            }
        )
        return
    table = Table(
        title=f"{b.model_reference} (#{b.id}) vs {a.model_reference} (#{a.id}), paired on common items"
    )
    for column in ("metric", "n", f"#{a.id}", f"#{b.id}", "Δ", "CI", "p", "W/T/L", "verdict"):
        table.add_column(column)
    for d in diffs:
        c = d.comparison
        table.add_row(
            d.metric,
            str(c.n),
            f"{c.baseline_mean:.3f}",
            f"{c.candidate_mean:.3f}",
            f"{c.delta:+.3f}",
            f"[{c.ci[0]:+.3f}, {c.ci[1]:+.3f}]",
            f"{c.p_value:.3g}",
            f"{c.wins}/{c.ties}/{c.losses}",
            c.verdict,
        )
    console.print(table)
    if not diffs:
        err_console.print("the two evaluations share no scored items and metrics")


def metrics(json_output: JsonFlag = False) -> None:
    """List the registered metrics and their options."""
    from tuneloop.evaluate.metrics import METRICS, describe_options

    rows: list[dict[str, Any]] = [
        {
            "name": d.name,
            "group": d.group,
            "higher_is_better": d.higher_is_better,
            "pairwise": d.pairwise,
            "description": d.description,
            "options": describe_options(d.options),
        }
        for d in sorted(METRICS.values(), key=lambda d: (d.group, d.name))
    ]
    if json_output:
        print_json(rows)
        return
    table = Table(title=f"metrics ({len(rows)})")
    for column in ("name", "group", "direction", "what it measures", "options"):
        table.add_column(column)
    for row in rows:
        direction = {True: "higher", False: "lower", None: "–"}[row["higher_is_better"]]
        options = ", ".join(o["option"] + ("*" if o["required"] else "") for o in row["options"])
        table.add_row(row["name"], row["group"], direction, row["description"], options)
    console.print(table)
