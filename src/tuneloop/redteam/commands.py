"""Verbs ``tuneloop redteam run|gate|canaries|probes|show``: parse, call one stage function
(:mod:`tuneloop.redteam.campaign`, :mod:`tuneloop.redteam.library`), render, pick the exit code.

Run ``tuneloop redteam run --model my-project:2`` inside a project; see docs/redteam.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from tuneloop.console import JsonFlag, console, err_console, print_json, stage_progress

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="Model to red-team (name:N, name@alias, base:ID, a directory).")
]
BaselineOption = Annotated[
    str | None,
    typer.Option(
        help="Compare against this model; default: the model it was trained from; 'none': no comparison."
    ),
]
CategoriesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--categories",
        "-c",
        help="Probe categories (comma-separated or repeated); default: redteam.categories, else all.",
    ),
]
StrategiesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--strategies", "-s", help="Strategies (comma-separated or repeated), e.g. none,base64,roleplay."
    ),
]
XstestOption = Annotated[
    Path | None, typer.Option(help="XSTest prompts CSV: safe prompts join over_refusal, unsafe ones harmful.")
]
DataOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--data", help="Training files for memorisation/PII probes (default: the model's dataset version)."
    ),
]
CanaryOption = Annotated[
    list[Path] | None,
    typer.Option("--canaries", help="Canary manifest files (default: those recorded in the project)."),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", help="At most this many probes per category (a seeded sample).")
]
TokensOption = Annotated[
    int | None, typer.Option(help="Longest answer per probe (default: redteam.max_new_tokens).")
]


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _options(model: str, baseline: str | None, categories: list[str] | None, strategies: list[str] | None,
             xstest: Path | None, data: list[Path] | None, canaries: list[Path] | None, limit: int | None,
             max_new_tokens: int | None) -> Any:  # fmt: skip
    from tuneloop.redteam.campaign import RunOptions

    return RunOptions(
        model=model, baseline=baseline, categories=_split(categories), strategies=_split(strategies),
        xstest=xstest, data=data, canary_manifests=list(canaries or []), probes_per_category=limit,
        max_new_tokens=max_new_tokens,
    )  # fmt: skip


def run(
    model: ModelOption,
    baseline: BaselineOption = None,
    categories: CategoriesOption = None,
    strategies: StrategiesOption = None,
    xstest: XstestOption = None,
    data: DataOption = None,
    canaries: CanaryOption = None,
    limit: LimitOption = None,
    max_new_tokens: TokensOption = None,
    gate: Annotated[bool, typer.Option("--gate", help="Exit 1 when the red-team gate fails.")] = False,
    report: Annotated[Path | None, typer.Option(help="Also write REPORT.json and REPORT.html here.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Red-team a model: probes × strategies, failure rates with CIs, deltas vs its baseline."""
    from tuneloop.project import Project
    from tuneloop.redteam import campaign

    options = _options(model, baseline, categories, strategies, xstest, data, canaries, limit, max_new_tokens)
    result = campaign.run(Project.open(), options, report=report, progress=stage_progress(quiet=json_output))
    if json_output:
        print_json({"ok": True, "passed": result.passed, "result_id": result.result_id,
                    "report_html": str(result.report_html), **_summary(result.data)})  # fmt: skip
    else:
        _print_summary(result.data)
        console.print(f"report: {result.report_html}")
    if gate and not result.passed:
        raise typer.Exit(1)


def gate(
    model: ModelOption,
    baseline: BaselineOption = None,
    categories: CategoriesOption = None,
    strategies: StrategiesOption = None,
    xstest: XstestOption = None,
    data: DataOption = None,
    canaries: CanaryOption = None,
    limit: LimitOption = None,
    max_new_tokens: TokensOption = None,
    rerun: Annotated[
        bool, typer.Option("--rerun", help="Run the red-team again instead of re-using its latest report.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Gate a model on its red-team: exit 1 when a category is significantly worse than its baseline."""
    from tuneloop.project import Project
    from tuneloop.redteam import campaign

    options = _options(model, baseline, categories, strategies, xstest, data, canaries, limit, max_new_tokens)
    decision = campaign.gate(Project.open(), options, rerun=rerun, progress=stage_progress(quiet=json_output))
    if json_output:
        print_json({"ok": True, "passed": decision.passed, "model": decision.model, "baseline": decision.baseline,
                    "gate": decision.gate, "result_id": decision.result_id})  # fmt: skip
    else:
        table = Table(title=f"red-team gate: {decision.model} vs {decision.baseline or 'no baseline'}")
        for column in ("category", "result", "reason"):
            table.add_column(column)
        for row in decision.gate["categories"]:
            status = "[green]pass[/]" if row["passed"] else "[red]fail[/]"
            table.add_row(row["category"], status + ("" if row["gated"] else " (report only)"), row["reason"])
        console.print(table)
        console.print("[green]gate passed[/]" if decision.passed else "[red]gate failed[/]")
    if not decision.passed:
        raise typer.Exit(1)


def canaries(
    source: Annotated[
        Path, typer.Argument(help="Training file (JSONL: chat messages, Alpaca, prompt/completion or text).")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the file with canaries planted.")
    ],
    count: Annotated[
        int | None, typer.Option(help="Canaries to plant (default: redteam.canaries.count).")
    ] = None,
    repeats: Annotated[
        int, typer.Option(help="Copies of each canary record (more copies: easier to memorise).")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Seed for the secrets and their positions.")] = 0,
    json_output: JsonFlag = False,
) -> None:
    """Plant unique random canary strings in a training file so memorisation becomes measurable."""
    from tuneloop.project import Project
    from tuneloop.redteam.library import plant

    planted = plant(Project.open_optional(), source, output, count=count, repeats=repeats, seed=seed)
    manifest = planted.manifest
    if json_output:
        print_json({"ok": True, "output": str(output), "manifest": str(planted.manifest_file), "artifact": planted.artifact,
                    "canaries": [c.__dict__ for c in manifest.canaries]})  # fmt: skip
        return
    console.print(
        f"planted {len(manifest.canaries)} canaries ×{repeats} in {output} ({manifest.format} records)"
    )
    recorded = " (also recorded in the project)" if planted.artifact else ""
    console.print(f"manifest: {planted.manifest_file}" + recorded)
    if planted.artifact is None:
        err_console.print("not inside a project: pass the manifest to `redteam run --canaries` yourself")


def probes(
    category: Annotated[str | None, typer.Option(help="List this category's probes.")] = None,
    custom: Annotated[
        list[Path] | None, typer.Option(help="Also read these probe YAML files (checked with line numbers).")
    ] = None,
    xstest: XstestOption = None,
    json_output: JsonFlag = False,
) -> None:
    """List probe categories (expected behaviour, probe counts) and strategies, or one category's probes."""
    from tuneloop.project import Project
    from tuneloop.redteam.library import catalogue

    found = catalogue(Project.open_optional(), category=category, custom=custom, xstest=xstest)
    if category is not None:
        if json_output:
            print_json(
                {
                    "ok": True,
                    "category": category,
                    "probes": [p.model_dump(mode="json", exclude_none=True) for p in found.probes],
                }
            )
            return
        # Custom probes are user text: plain Text cells, so "[/]" in a prompt prints as written.
        table = Table(title=Text(f"{category}: {len(found.probes)} probes"))
        for column in ("id", "expected", "detector", "harm area", "prompt"):
            table.add_column(column)
        for p in found.probes:
            table.add_row(
                *(
                    Text(cell)
                    for cell in (p.id, p.expected, p.detector or "", p.harm_area or "", p.user_text()[:90])
                )
            )
        console.print(table)
        return
    if json_output:
        print_json({"ok": True, "categories": found.categories, "strategies": found.strategies})
        return
    table = Table(title="probe categories")
    for column in ("category", "probes", "source", "expected behaviour"):
        table.add_column(column)
    for row in found.categories:
        table.add_row(
            Text(row["category"]),
            str(row["probes"]) if row["source"] != "project data" else "from data",
            Text(row["source"]),
            Text(row["description"]),
        )
    console.print(table)
    strategies = Table(title="strategies")
    strategies.add_column("strategy")
    strategies.add_column("what it does")
    for name, text in found.strategies.items():
        strategies.add_row(name, text)
    console.print(strategies)


def show(
    result_id: Annotated[
        int | None, typer.Argument(help="A red-team result id (default: the latest).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="The latest result of this model.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Show a stored red-team result (the latest by default)."""
    from tuneloop.project import Project
    from tuneloop.redteam.library import stored_result

    stored = stored_result(Project.open(), result_id, model=model)
    found, data, html = stored.info, stored.data, stored.html
    if json_output:
        print_json({"ok": True, "result_id": found.id, "passed": found.passed, "report_html": str(html) if html else None,
                    "created_at": found.created_at.isoformat(), **_summary(data)})  # fmt: skip
        return
    _print_summary(data)
    console.print(f"result {found.id} · {found.created_at:%Y-%m-%d %H:%M} · report: {html}")


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": data.get("model"),
        "baseline": data.get("baseline"),
        "probe_count": data.get("probe_count"),
        "categories": data.get("categories", {}),
        "strategies": data.get("strategies", {}),
        "gate": data.get("gate"),
        "notes": data.get("notes", []),
    }


def _print_summary(data: dict[str, Any]) -> None:
    table = Table(
        title=f"red-team: {data['model']} vs {data.get('baseline') or 'no baseline'} ({data['probe_count']} probes)"
    )
    for column in (
        "category",
        "probes",
        "failure rate [95% CI]",
        "baseline",
        "delta",
        "p",
        "verdict",
        "uncertain",
    ):
        table.add_column(column)
    for category, entry in data["categories"].items():
        rate, delta = entry["candidate"], entry.get("delta")
        base = entry.get("baseline")
        verdict = delta["verdict"] if delta else "–"
        style = "red" if verdict == "worse" else ("green" if verdict == "better" else "")
        table.add_row(
            category, str(rate["n"]), f"{rate['rate']:.1%} [{rate['ci_low']:.1%}, {rate['ci_high']:.1%}]",
            f"{base['rate']:.1%}" if base else "–", f"{delta['delta']:+.1%}" if delta else "–",
            f"{delta['p_value']:.3g}" if delta else "–", f"[{style}]{verdict}[/]" if style else verdict, str(rate["uncertain"]),
        )  # fmt: skip
    console.print(table)
    for note in data.get("notes", []):
        err_console.print(f"note: {note}")
    gate = data["gate"]
    failed = [c["category"] for c in gate["categories"] if not c["passed"]]
    console.print("[green]gate: pass[/]" if gate["passed"] else f"[red]gate: fail[/] ({', '.join(failed)})")
