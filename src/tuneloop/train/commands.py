"""Verbs ``tuneloop train``, ``tuneloop runs list|show|compare`` and ``tuneloop export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.table import Table
from rich.text import Text

from tuneloop.config.train import TrainSection
from tuneloop.console import JsonFlag, console, err_console, print_json, stage_progress
from tuneloop.evaluate.commands_render import default_suites_text
from tuneloop.evaluate.defaults import DefaultSuitesResult
from tuneloop.train.methods import method_names


def _project(config: Path | None) -> Any:
    from tuneloop.project import Project

    return Project.open(config_path=config) if config else Project.open()


ADAPTERS = get_args(TrainSection.model_fields["adapter"].annotation)
"""The ``train.adapter`` choices, from the config's type."""

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Project config (default: the nearest tuneloop.yaml).")
]


def train(
    config: ConfigOption = None,
    method: Annotated[
        str | None, typer.Option(help=f"{' | '.join(method_names())} (default: train.method).")
    ] = None,
    adapter: Annotated[
        str | None, typer.Option(help=f"{' | '.join(ADAPTERS)} (default: train.adapter).")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="Training file(s) instead of data.train, or a dataset version (id, digest or name).",
        ),
    ] = None,
    holdout: Annotated[
        list[Path] | None, typer.Option("--holdout", help="Holdout file(s) instead of data.holdout.")
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--from", help="Continue from a registered version (name:N or name@alias).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Register the result under this model name.")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="A label stored in the version's lineage.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    epochs: Annotated[
        float | None, typer.Option(help="Passes over the data (default: train.epochs).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Resume the newest interrupted, failed or crashed run.")
    ] = False,
    run: Annotated[
        str | None, typer.Option("--run", help="Resume this run by name (implies --resume).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Run the data gate and pre-flight only.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Train although the data gate or pre-flight failed (recorded).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why --force is justified (stored with the run).")
    ] = None,
    no_eval: Annotated[bool, typer.Option("--no-eval", help="Skip the post-training evaluation.")] = False,
    sweep: Annotated[
        str | None,
        typer.Option(
            "--sweep",
            metavar="lr",
            help="Pick the learning rate first: short proxy runs at 1/4x to 4x the derived rate, "
            "scored by holdout loss (recorded with the run).",
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Fine-tune the base model (or a registered version) and register the result as a candidate."""
    from tuneloop.train import train as run_training

    overrides: dict[str, Any] = {}
    if max_steps is not None:
        overrides["max_steps"] = max_steps
    if epochs is not None:
        overrides["epochs"] = epochs
    result = run_training(
        _project(config),
        method=method,
        adapter=adapter,
        data=data or None,
        holdout=holdout or None,
        parent=parent,
        register_as=name,
        tag=tag,
        resume=run or resume,
        dry_run=dry_run,
        force=force,
        force_reason=reason,
        no_eval=no_eval,
        overrides=overrides,
        sweep=sweep,
        progress=stage_progress(quiet=json_output),
    )
    if not result.is_main_process:
        return  # the main process of a distributed run reports for all of them
    if json_output:
        print_json(result.to_dict())
    elif result.status == "dry-run":
        console.print("dry run: pre-flight passed; nothing was trained")
    elif result.status == "completed":
        console.print(
            f"[bold]{result.run_name}[/bold] completed: registered [bold]{result.model_version}[/bold]"
        )
        console.print(
            f"  final loss {result.metrics.get('loss', float('nan')):.4f}"
            + (f", eval loss {result.metrics['eval_loss']:.4f}" if "eval_loss" in result.metrics else "")
        )
        console.print(f"  report {result.report_html}")
        if result.verdict is not None:
            print_verdict(result.verdict.to_dict())
    if result.status == "interrupted":
        err_console.print(
            f"run {result.run_name} interrupted; checkpoint saved. Continue with `tuneloop train --run {result.run_name}`"
        )
        raise typer.Exit(130)
    evaluation = result.evaluation
    if isinstance(evaluation, DefaultSuitesResult) and not json_output:
        err_console.print(default_suites_text(evaluation), markup=False)
    if evaluation is not None and getattr(evaluation, "passed", None) is False:
        raise typer.Exit(1)


VERDICT_STYLES = {"learned": "bold green", "undertrained": "bold yellow", "overfit": "bold yellow",
                  "did_not_learn": "bold red"}  # fmt: skip


def print_verdict(verdict: dict[str, Any]) -> None:
    """Did it learn? The verdict's headline and its warnings (information too, dimmed)."""
    console.print(
        Text("did it learn? ", style="bold")
        + Text(verdict["headline"], style=VERDICT_STYLES.get(verdict["status"], ""))
    )
    for finding in verdict["findings"]:
        style = "yellow" if finding["severity"] == "warning" else "dim"
        console.print(f"  {finding['severity']}: {finding['message']}", style=style, markup=False)


def list_runs(
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    config: ConfigOption = None,
    json_output: JsonFlag = False,
) -> None:
    """List training runs, newest first."""
    from tuneloop.train.run_records import is_alive
    from tuneloop.train.run_records import list_runs as query

    found = query(_project(config), status=status, limit=limit)
    if json_output:
        print_json([r.to_dict() for r in found])
        return
    table = Table(title=f"runs ({len(found)})")
    for column in ("run", "status", "method", "adapter", "steps", "loss", "eval loss", "version", "started"):
        table.add_column(column)
    for run in found:
        status_text = run.status + (" (dead)" if run.status == "running" and not is_alive(run) else "")
        metrics = run.final_metrics
        table.add_row(
            run.name,
            status_text,
            run.method,
            run.adapter,
            str(run.summary.get("steps", "")),
            _fmt(metrics.get("loss")),
            _fmt(metrics.get("eval_loss")),
            str(run.summary.get("model_version") or ""),
            run.started_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def show(
    run: Annotated[str, typer.Argument(help="Run name (see `tuneloop runs list`).")],
    config: ConfigOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Show one run: inputs, lineage, settings, final metrics."""
    from tuneloop.train.run_records import get_run, metric_series

    project = _project(config)
    info = get_run(project, run)
    if json_output:
        print_json({**info.to_dict(), "metrics": metric_series(project, info.id)})
        return
    console.print(f"[bold]{info.name}[/bold]  {info.status}  {info.method}/{info.adapter}")
    settings = info.config.get("settings", {})
    rows = [
        ("base", f"{info.base_reference} ({info.base_weights_sha256[:12]})"),
        ("chat template", (info.chat_template_sha256 or "-")[:12]),
        (
            "data",
            f"{info.config.get('dataset_digest', '')[:12]} version {info.dataset_version_id} {info.config.get('data_files')}",
        ),
        ("parent version id", info.parent_version_id),
        ("forced", f"{info.forced} {info.force_reason or ''}"),
        ("licence", _licence(info)),
        ("model version", info.summary.get("model_version")),
        ("report", info.summary.get("report_html")),
        ("output", info.output_dir),
        ("libraries", ", ".join(f"{k} {v}" for k, v in info.environment.get("libraries", {}).items())),
    ]
    if info.error:
        rows.append(("error", info.error))
    for key, value in rows:
        console.print(f"  {key:<18} {value}", markup=False)
    for key in (
        "learning_rate",
        "examples_per_step",
        "tokens_per_step",
        "micro_batch_tokens",
        "epochs",
        "max_steps",
        "packing",
        "loss_masking",
        "bf16",
    ):
        console.print(f"  {key:<18} {settings.get(key)}", markup=False)
    for name, value in sorted(info.final_metrics.items()):
        console.print(f"  {name:<18} {_fmt(value)}", markup=False)
    if info.summary.get("verdict"):
        print_verdict(info.summary["verdict"])


def compare(
    runs_: Annotated[list[str], typer.Argument(metavar="RUN...", help="Two or more run names.")],
    config: ConfigOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Compare runs: settings that differ and final metrics side by side."""
    from tuneloop.errors import InvalidInput
    from tuneloop.train.run_records import compare_runs

    if len(runs_) < 2:
        raise InvalidInput("too_few_runs", "give at least two runs to compare")
    comparison = compare_runs(_project(config), runs_)
    if json_output:
        print_json(comparison)
        return
    table = Table(title="run comparison")
    table.add_column("")
    for name in comparison["runs"]:
        table.add_column(name)
    table.add_row("status", *comparison["status"])
    table.add_row("data", *[(d or "")[:12] for d in comparison["data"]])
    table.add_row("version", *[str(v or "") for v in comparison["model_versions"]])
    for key, values in comparison["config_differences"].items():
        table.add_row(key, *[str(v) for v in values])
    for key, values in comparison["metrics"].items():
        table.add_row(key, *[_fmt(v) for v in values])
    console.print(table)


def export(
    model: Annotated[str, typer.Argument(help="Model reference: name:N or name@alias.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write.")],
    merged: Annotated[
        bool, typer.Option("--merged", help="Merge the adapter into the base weights.")
    ] = False,
    adapter: Annotated[
        bool, typer.Option("--adapter", help="Write the PEFT adapter only (default).")
    ] = False,
    dtype: Annotated[
        str, typer.Option(help="Merged weights dtype: auto | float32 | bfloat16 | float16.")
    ] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty output directory.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Write a model version as safetensors loadable by transformers/PEFT (and vLLM)."""
    from tuneloop.errors import InvalidInput
    from tuneloop.project import Project
    from tuneloop.train.export import export_model

    if merged and adapter:
        raise InvalidInput("conflicting_options", "choose one of --merged and --adapter")
    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise InvalidInput(
            "invalid_dtype", f"--dtype must be auto, float32, bfloat16 or float16, not {dtype!r}"
        )
    result = export_model(
        Project.open_optional(), model, output, merged=merged, dtype=dtype, overwrite=overwrite
    )
    if json_output:
        print_json(result.to_dict())
        return
    console.print(f"exported {model} ({result.mode}) to {result.output}: {', '.join(result.files)}")


def _licence(info: Any) -> str:
    licence = info.config.get("licence") or {}
    if licence.get("overridden"):
        override = licence.get("override") or {}
        return f"OVERRIDDEN by {override.get('approved_by')}: {override.get('reason')}"
    if licence.get("allowed"):
        return f"allowed ({licence.get('licence_id')})"
    return licence.get("reason", "not checked")


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
