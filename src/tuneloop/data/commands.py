"""Verbs ``tuneloop data check|list|show|formats|convert|dedup|redact|split``.

Exit codes: 0 clean, 1 a gate failed, 2 the input is invalid (every problem listed as
``file:line:field: code message``). Verbs that write files do so atomically (temp file + rename),
refuse an existing output without ``--force`` and never overwrite an input (``redact --in-place`` is
the one explicit exception); rows are written back as read (all fields), in the format the output's
extension names. Each verb calls one stage function of :mod:`tuneloop.data.workflow` and renders it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tuneloop.console import JsonFlag, console, err_console, print_json, stage_progress


@contextlib.contextmanager
def data_errors(json_output: bool) -> Iterator[None]:
    """Print a :class:`DataInvalid` as one ``file:line:field: code message`` line per problem, exit 2.

    A context manager, not a decorator, so the verb table holds the verb functions themselves."""
    from tuneloop.data.problems import DataInvalid

    try:
        yield
    except DataInvalid as err:
        if json_output:
            print_json({"ok": False, "error": err.to_dict()})
        for line in err.lines():
            err_console.print(line, markup=False, highlight=False)
        total = len(err.problems) + err.omitted
        err_console.print(f"invalid data: {total} problem{'s' if total != 1 else ''} (exit 2)", markup=False)
        raise typer.Exit(2) from None


def open_project() -> Any:
    from tuneloop.project import Project

    return Project.open_optional()


def check(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Data files or folders (default: data.train).")
    ] = None,
    holdout: Annotated[
        list[Path] | None,
        typer.Option("--holdout", help="Holdout file(s): check train/holdout contamination."),
    ] = None,
    goal: Annotated[str | None, typer.Option(help="behaviour (50-100+ examples) or domain (1000+).")] = None,
    format: Annotated[
        str | None, typer.Option("--format", help="Force a format (see `tuneloop data formats`).")
    ] = None,
    production_sample: Annotated[
        Path | None, typer.Option(help="Production inputs to compare against.")
    ] = None,
    no_embeddings: Annotated[
        bool, typer.Option("--no-embeddings", help="Skip MiniLM embeddings (clusters; TF-IDF elsewhere).")
    ] = False,
    max_length: Annotated[int | None, typer.Option(help="Token limit (default: model.max_length).")] = None,
    estimate_time: Annotated[
        bool, typer.Option("--estimate-time", help="Measure training throughput on this machine.")
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="Model whose chat template and tokenizer to use (default: model.base).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write REPORT.html and REPORT.json here.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the first file's stem).")] = None,
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Do not register a dataset version.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Validate, measure and gate a dataset; register it as a version. Exit 0 clean, 1 gate failed, 2 invalid."""
    with data_errors(json_output):
        from tuneloop.data import workflow
        from tuneloop.data.commands_render import print_summary

        result = workflow.check_data(
            open_project(), files, holdout=holdout, goal=goal, format=format, production_sample=production_sample,
            embeddings=not no_embeddings, max_length=max_length, estimate_time=estimate_time, model=model,
            report_path=report, name=name, register=not no_register, progress=stage_progress(quiet=json_output),
        )  # fmt: skip
        if json_output:
            print_json({"ok": result.gate_passed, **result.report})
        else:
            print_summary(result.report, result.report_html_path)
        if not result.gate_passed:
            raise typer.Exit(1)


def list_versions(json_output: JsonFlag = False) -> None:
    """List registered dataset versions."""
    from tuneloop.data.versions import list_dataset_versions
    from tuneloop.project import Project

    versions = list_dataset_versions(Project.open())
    if json_output:
        print_json([v.to_dict() for v in versions])
        return
    table = Table(title=f"dataset versions ({len(versions)})")
    for column in ("id", "name", "digest", "kind", "records", "gate", "created"):
        table.add_column(column)
    for v in versions:
        gate = "-" if v.gate_passed is None else ("passed" if v.gate_passed else "failed")
        table.add_row(
            str(v.id),
            v.name,
            v.digest[:12],
            v.kind,
            str(v.num_records),
            gate,
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def show(
    ref: Annotated[str, typer.Argument(help="Version id, digest prefix or name.")],
    json_output: JsonFlag = False,
) -> None:
    """Show one dataset version: sources, stats, gate and where its report is."""
    from tuneloop.data.workflow import describe_version
    from tuneloop.project import Project

    described = describe_version(Project.open(), ref)
    info, payload = described.info, described.to_dict()
    if json_output:
        print_json(payload)
        return
    gate = "-" if info.gate_passed is None else ("passed" if info.gate_passed else "failed")
    console.print(
        f"[bold]dataset version {info.id}[/bold] {info.name} ({info.kind}, {info.num_records} records)"
    )
    console.print(f"  digest    {info.digest}")
    console.print(f"  sources   {', '.join(info.source_files)}")
    console.print(f"  gate      {gate}")
    console.print(f"  created   {info.created_at:%Y-%m-%d %H:%M:%S}")
    for key, value in info.stats.items():
        console.print(f"  {key:<10}{value}")
    for key in ("report_html_path", "snapshot_path"):
        if key in payload:
            console.print(f"  {key.replace('_path', '').replace('_', ' '):<10}{payload[key]}")


def formats(json_output: JsonFlag = False) -> None:
    """List the input formats tuneloop recognises and the keys that identify each."""
    from tuneloop.data.formats import FORMATS

    rows: list[dict[str, Any]] = [
        {
            "name": s.name,
            "required": sorted(s.required),
            "optional": sorted(s.optional),
            "records": s.record_kind,
            "description": s.description,
        }
        for s in FORMATS.values()
    ]
    if json_output:
        print_json(rows)
        return
    table = Table(title="input formats (detected per file from the keys of its examples)")
    for column in ("format", "required keys", "optional keys", "becomes", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            ", ".join(row["required"]),
            ", ".join(row["optional"]),
            row["records"],
            row["description"],
        )
    console.print(table)
    console.print(
        "Files: .jsonl/.ndjson, .json (array), .csv/.tsv, .parquet, .txt/.md (raw text, chunked); folders are read recursively."
    )


# verbs that write files

Force = Annotated[bool, typer.Option("--force", help="Replace an existing output file.")]


def convert(
    files: Annotated[list[Path], typer.Argument(help="Input files.")],
    to: Annotated[str, typer.Option("--to", help="openai-chat, trl-preference or openai-preference.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Output file (.jsonl, .json, .csv, .parquet).")
    ],
    format: Annotated[str | None, typer.Option("--format", help="Force the input format.")] = None,
    force: Force = False,
    json_output: JsonFlag = False,
) -> None:
    """Convert data to another format (tags become top-level fields)."""
    with data_errors(json_output):
        from tuneloop.data import workflow

        done = workflow.convert_files(open_project(), files, to, output, format=format, force=force)
        payload = {"ok": True, **done.to_dict()}
        print_json(payload) if json_output else console.print(
            f"wrote {done.records} {to} records to {output}"
        )


def dedup(
    files: Annotated[list[Path], typer.Argument(help="Input files (one format).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Cleaned output file.")],
    log_file: Annotated[
        Path | None, typer.Option("--log", help="Removal log (JSONL; default OUTPUT.removed.jsonl).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the clusters, write nothing.")] = False,
    format: Annotated[str | None, typer.Option("--format", help="Force the input format.")] = None,
    force: Force = False,
    json_output: JsonFlag = False,
) -> None:
    """Remove exact and near duplicates, keeping the first of each cluster; write a removal log."""
    with data_errors(json_output):
        from tuneloop.data import workflow

        done = workflow.dedup_files(
            open_project(), files, output, log_file=log_file, dry_run=dry_run, format=format, force=force
        )
        if json_output:
            print_json({"ok": True, **done.to_dict()})
            return
        entries = done.removals
        for entry in entries[:50]:
            console.print(
                f"  remove {entry['removed']['file']}:{entry['removed']['line']}  {entry['reason']}"
            )
        if len(entries) > 50:
            console.print(f"  ... and {len(entries) - 50} more (see the log)")
        where = "(dry run: nothing written)" if dry_run else f"-> {output}, log {done.log}"
        console.print(f"{done.removed} of {done.records} removed in {done.clusters} clusters {where}")


def redact(
    files: Annotated[list[Path], typer.Argument(help="Input files (one format).")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Redacted copy.")] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Replace the (single) input file itself.")
    ] = False,
    format: Annotated[str | None, typer.Option("--format", help="Force the input format.")] = None,
    force: Force = False,
    json_output: JsonFlag = False,
) -> None:
    """Write a copy with personal data and secrets replaced by type markers such as [EMAIL]."""
    with data_errors(json_output):
        from tuneloop.data import workflow

        done = workflow.redact_files(
            open_project(), files, output, in_place=in_place, format=format, force=force
        )
        payload = {"ok": True, **done.to_dict()}
        print_json(payload) if json_output else console.print(
            f"{done.replacements} spans redacted in {done.records} records -> {done.output}"
        )


def split(
    file: Annotated[Path, typer.Argument(help="The dataset to split.")],
    holdout: Annotated[float, typer.Option("--holdout", min=0.01, max=0.9, help="Holdout share.")] = 0.1,
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Field whose value never crosses the split.")
    ] = None,
    stratify_by: Annotated[
        str | None, typer.Option("--stratify-by", help="Field whose distribution both sides keep.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    train_out: Annotated[Path | None, typer.Option(help="Default: FILE.train<ext> beside FILE.")] = None,
    holdout_out: Annotated[Path | None, typer.Option(help="Default: FILE.holdout<ext> beside FILE.")] = None,
    format: Annotated[str | None, typer.Option("--format", help="Force the input format.")] = None,
    force: Force = False,
    json_output: JsonFlag = False,
) -> None:
    """Split into train and holdout: group-aware, stratified, verified free of cross-split duplicates."""
    with data_errors(json_output):
        from tuneloop.data import workflow

        done = workflow.split_file(
            open_project(), file, holdout=holdout, group_by=group_by, stratify_by=stratify_by, seed=seed,
            train_out=train_out, holdout_out=holdout_out, format=format, force=force,
        )  # fmt: skip
        payload = {"ok": True, **done.to_dict()}
        if json_output:
            print_json(payload)
            return
        console.print(
            f"{done.method}: {done.train} train -> {done.train_file}, {done.holdout} holdout -> {done.holdout_file}"
        )
        for moved in payload["moved_to_train"][:50]:
            console.print(f"  moved to train {moved['file']}:{moved['line']}: {moved['reason']}")
        if done.split["strata"]:
            console.print("  strata: " + json.dumps(done.split["strata"]))
        console.print("verified: no exact or near duplicate (prompt or example) crosses the split")
