"""Verbs ``tuneloop models list|show|recommend|pull`` and ``tuneloop chat``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from tuneloop.console import JsonFlag, console, print_json, stage_progress
from tuneloop.models.chat import ChatSettings
from tuneloop.project import Project, config_of


def _fmt_params(billions: float) -> str:
    return f"{billions * 1000:.0f}M" if billions < 1 else f"{billions:g}B"


def list_models(
    commercial: Annotated[
        bool, typer.Option("--commercial", help="Only licences allowing commercial use.")
    ] = False,
    max_params: Annotated[float | None, typer.Option(help="Largest size, in billions of parameters.")] = None,
    min_context: Annotated[int | None, typer.Option(help="Smallest context window, in tokens.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """List the base-model catalog, optionally filtered."""
    from tuneloop.models.catalog import filter_entries
    from tuneloop.models.serving_cost import estimate_cost_per_million_tokens

    entries = filter_entries(
        commercial=True if commercial else None, max_params_b=max_params, min_context=min_context
    )
    if json_output:
        print_json([entry.model_dump(mode="json") for entry in entries])
        return
    table = Table(title=f"base-model catalog ({len(entries)} models; * bundled, works offline)")
    table.add_column("id", no_wrap=True)
    for column in ("params", "context", "licence", "commercial", "$/M tokens"):
        table.add_column(column, no_wrap=True)
    for entry in entries:
        cost = estimate_cost_per_million_tokens(entry)
        table.add_row(
            entry.id + (" *" if entry.bundled else ""),
            _fmt_params(entry.params_b),
            f"{entry.context_window:,}",
            entry.licence.id,
            "yes" if entry.licence.commercial_use else "no",
            f"{cost.usd_per_million_tokens:.4f}",
        )
    console.print(table)


def show(
    catalog_id: Annotated[str, typer.Argument(help="Catalog id, e.g. smollm2-135m-instruct.")],
    tokens_per_month: Annotated[
        float, typer.Option(help="Monthly inference volume for the cost comparison, in tokens.")
    ] = 1e9,
    json_output: JsonFlag = False,
) -> None:
    """Show one catalog entry, its licence check and its monthly cost against a large base model."""
    from tuneloop.models.choice import describe_entry

    report = describe_entry(catalog_id, Project.open_optional(), tokens_per_month=tokens_per_month)
    if json_output:
        print_json(report)
        return
    entry, decision, cost, comparison = report.entry, report.licence_check, report.cost, report.monthly
    console.print(f"[bold]{entry.name}[/bold] ({entry.id})  {entry.hf_repo}")
    console.print(
        f"  parameters      {_fmt_params(entry.params_b)} (active {_fmt_params(entry.active_params_b)})"
    )
    console.print(f"  context window  {entry.context_window:,} tokens")
    console.print(
        f"  licence         {entry.licence.name} ({entry.licence.id}), source {entry.licence.source_url}",
        markup=False,
    )
    for condition in entry.licence.conditions:
        console.print(f"    - {condition}", markup=False)
    verdict = "allowed" if decision.allowed else "REFUSED"
    console.print(f"  your use        {verdict}" + "".join(f"; {r}" for r in decision.reasons))
    tooling = entry.tooling
    console.print(
        f"  fine-tuning     LoRA targets {', '.join(tooling.lora_targets)}; QLoRA {'yes' if tooling.qlora else 'no'};"
        f" chat template {'yes' if tooling.chat_template else 'no'}"
    )
    console.print(
        f"  inference cost  ${cost.usd_per_million_tokens:.4f} per million tokens ({cost.gpus_needed} GPU)"
    )
    ratio = comparison["ratio"]
    cheaper = f" ({ratio:.1f}x cheaper)" if ratio else ""
    console.print(
        f"  at {tokens_per_month:,.0f} tokens/month: ${comparison['monthly_cost_usd']:,.2f} vs "
        f"${comparison['reference_monthly_cost_usd']:,.2f} for {comparison['reference_id']}{cheaper}"
    )


def recommend(
    commercial: Annotated[
        bool, typer.Option("--commercial", help="The model will be used commercially.")
    ] = False,
    min_context: Annotated[int | None, typer.Option(help="Required context window, in tokens.")] = None,
    max_params: Annotated[float | None, typer.Option(help="Largest size, in billions of parameters.")] = None,
    monthly_active_users: Annotated[int | None, typer.Option(help="Expected monthly active users.")] = None,
    top: Annotated[int, typer.Option(help="How many to show.")] = 10,
    json_output: JsonFlag = False,
) -> None:
    """Rank base models by inference cost among those whose licence and context fit the requirement."""
    from tuneloop.models.choice import recommend as rank

    ranked = rank(
        min_context=min_context,
        commercial=commercial,
        monthly_active_users=monthly_active_users,
        max_params_b=max_params,
    )[:top]
    if json_output:
        print_json(
            {
                "objective": "lowest estimated inference cost per million tokens among models whose licence "
                "allows the declared use and whose context window is at least the required one",
                "recommendations": [r.model_dump(mode="json") for r in ranked],
            }
        )
        return
    table = Table(title="recommended base models (cheapest inference first)")
    table.add_column("#", justify="right")
    table.add_column("id", no_wrap=True)
    for column in ("params", "context", "licence", "$/M tokens"):
        table.add_column(column, justify="right" if column != "licence" else "left", no_wrap=True)
    table.add_column("conditions", justify="right")
    for rec in ranked:
        entry = rec.entry
        conditions = len(entry.licence.conditions)
        table.add_row(
            str(rec.rank),
            entry.id,
            _fmt_params(entry.params_b),
            f"{entry.context_window:,}",
            entry.licence.id,
            f"{rec.usd_per_million_tokens:.4f}",
            str(conditions),
        )
    console.print(table)
    console.print("licence conditions and sources: `tuneloop models show <id>`")


def pull(
    reference: Annotated[
        str | None, typer.Argument(help="Model reference (default: the project's model.base).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Make a base model available locally (the bundled one is converted from GGUF once)."""
    from tuneloop.models.resolve import pull_base_model

    project = Project.open_optional()
    reference = reference or config_of(project).model.base
    progress = stage_progress(quiet=json_output)
    with progress.task(f"pulling {reference} ..."):
        resolved = pull_base_model(reference, project, progress=progress)
    payload = {
        "reference": resolved.reference,
        "path": str(resolved.base_path),
        "weights_sha256": resolved.base_weights_sha256,
        "source": resolved.source,
        "recorded_in_project": project is not None,
    }
    if json_output:
        print_json(payload)
        return
    console.print(
        f"{reference}: {resolved.base_path} (sha256 {resolved.base_weights_sha256[:16]}, {resolved.source})"
    )


def chat(
    model: Annotated[
        str, typer.Argument(help="Model reference (base:<id>, name:3, name@alias, a directory).")
    ],
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    system: Annotated[
        str | None, typer.Option(help="System prompt (default: the project's, if any).")
    ] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1)] = ChatSettings.max_new_tokens,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 = greedy.")] = ChatSettings.temperature,
    json_output: JsonFlag = False,
) -> None:
    """Chat one prompt through a model with its chat template, streaming the answer."""
    from tuneloop.models.chat import chat_with_model

    def write(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    answer = chat_with_model(
        model,
        prompt,
        Project.open_optional(),
        system=system,
        settings=ChatSettings(max_new_tokens=max_new_tokens, temperature=temperature),
        on_piece=None if json_output else write,
        progress=stage_progress(quiet=json_output),
    )
    if json_output:
        print_json({"model": model, "prompt": prompt, "answer": answer})
    else:
        sys.stdout.write("\n")
