"""Verbs ``tuneloop data check|list|show|formats|convert|dedup|redact|split``.

Exit codes: 0 clean, 1 a gate failed, 2 the input is invalid (every problem listed as
``file:line:field: code message``). Verbs that write files do so atomically (temp file + rename),
refuse an existing output without ``--force`` and never overwrite an input (``redact --in-place`` is
the one explicit exception); rows are written back as read (all fields), in the format the output's
extension names.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tuneloop.console import JsonFlag, console, err_console, print_json


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


def config_paths(project: Any, files: list[Path] | None, key: str) -> list[Path]:
    """The files given on the command line, else those in the project's ``data:`` section."""
    if files:
        return files
    if project is not None and getattr(project.config.data, key):
        return [project.resolve_path(p) for p in getattr(project.config.data, key)]
    return []


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
        from tuneloop.data.check import check_dataset
        from tuneloop.data.summary import print_summary
        from tuneloop.errors import InvalidInput

        if goal is not None and goal not in ("behaviour", "domain"):
            raise InvalidInput("invalid_option", f"--goal must be behaviour or domain, not {goal!r}")
        project = open_project()
        paths = config_paths(project, files, "train")
        if not paths:
            raise InvalidInput("no_data", "no files given and no data.train in tuneloop.yaml")
        held = config_paths(project, holdout, "holdout") or None
        sample = production_sample
        if sample is None and project is not None and project.config.data.production_sample:
            sample = project.resolve_path(project.config.data.production_sample)
        result = check_dataset(
            project, paths, goal=goal, holdout=held, production_sample=sample, max_length=max_length,
            embeddings=not no_embeddings, register=not no_register, format=format, model=model,
            estimate_time=estimate_time, name=name, report_path=report, quiet=json_output,
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
    from tuneloop.data.versions import get_dataset_version
    from tuneloop.project import Project

    project = Project.open()
    info = get_dataset_version(project, ref)
    payload = info.to_dict()
    if info.report_html_sha256:
        payload["report_html_path"] = str(project.artifacts.blob_path(info.report_html_sha256))
    if info.snapshot_sha256:
        payload["snapshot_path"] = str(project.artifacts.blob_path(info.snapshot_sha256))
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

    rows = [
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


def _settings():
    project = open_project()
    from tuneloop.config.data import DataSection

    return project.config.data if project else DataSection()


def _load(files: list[Path], format: str | None, extra_tags: list[str] | None = None):
    from tuneloop.data.load import load_dataset

    settings = _settings()
    tags = list(dict.fromkeys(settings.tag_fields + (extra_tags or [])))
    return load_dataset(files, format=format or settings.format, tag_fields=tags, max_problems=settings.max_problems,
                        max_line_bytes=settings.max_line_bytes, chunk_tokens=settings.chunk_tokens), settings  # fmt: skip


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
        from tuneloop.data.convert import CONVERTERS, NotConvertible
        from tuneloop.data.problems import ProblemLog
        from tuneloop.data.writers import check_output, write_rows
        from tuneloop.errors import InvalidInput

        if to not in CONVERTERS:
            raise InvalidInput("invalid_option", f"--to must be one of {', '.join(CONVERTERS)}, not {to!r}")
        check_output(output, inputs=files, force=force)
        loaded, settings = _load(files, format)
        log, rows = ProblemLog(limit=settings.max_problems), []
        for record in loaded.records:
            try:
                rows.append(CONVERTERS[to](record))
            except NotConvertible as exc:
                log.error("not_convertible", str(exc), record.source.file, record.source.line)
        log.raise_if_errors()
        write_rows(output, rows)
        payload = {"ok": True, "output": str(output), "records": len(rows), "format": to}
        print_json(payload) if json_output else console.print(f"wrote {len(rows)} {to} records to {output}")


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
        from tuneloop.data.dedup import find_duplicates
        from tuneloop.data.text import full_text, preview
        from tuneloop.data.writers import check_output, write_rows

        log_path = log_file or output.with_name(output.stem + ".removed.jsonl")
        if not dry_run:
            check_output(output, inputs=files, force=force)
            check_output(log_path, inputs=files, force=force)
        loaded, settings = _load(files, format)
        records = loaded.records
        report = find_duplicates(records, settings.dedup)
        removed = set(report.removable)
        entries = [
            {"removed": {"file": records[m.index].source.file, "line": records[m.index].source.line},
             "kept": {"file": records[c.representative].source.file, "line": records[c.representative].source.line},
             "kind": m.kind, "similarity": round(m.similarity, 4), "reason": m.reason(records), "text": preview(full_text(records[m.index]))}
            for c in report.clusters for m in c.members
        ]  # fmt: skip
        if not dry_run:
            write_rows(output, [row.value for i, row in enumerate(loaded.rows) if i not in removed])
            write_rows(log_path, entries)
        payload = {"ok": True, "records": len(records), "removed": len(removed), "kept": len(records) - len(removed),
                   "clusters": len(report.clusters), "method": report.method, "output": None if dry_run else str(output),
                   "log": None if dry_run else str(log_path), "removals": entries}  # fmt: skip
        if json_output:
            print_json(payload)
            return
        for entry in entries[:50]:
            console.print(
                f"  remove {entry['removed']['file']}:{entry['removed']['line']}  {entry['reason']}"
            )
        if len(entries) > 50:
            console.print(f"  ... and {len(entries) - 50} more (see the log)")
        where = "(dry run: nothing written)" if dry_run else f"-> {output}, log {log_path}"
        console.print(f"{len(removed)} of {len(records)} removed in {len(report.clusters)} clusters {where}")


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
        from tuneloop.data.sensitive import redact_value
        from tuneloop.data.writers import check_output, write_rows
        from tuneloop.errors import InvalidInput

        if in_place and (output is not None or len(files) != 1):
            raise InvalidInput("invalid_option", "--in-place takes exactly one input file and no --output")
        if output is None and not in_place:
            raise InvalidInput("invalid_option", "give --output FILE (or --in-place to replace the input)")
        target = files[0] if in_place else output
        assert target is not None
        check_output(target, inputs=files, force=force, in_place=in_place)
        loaded, settings = _load(files, format)
        rows, total = [], 0
        for row in loaded.rows:
            value, count = redact_value(row.value, settings.sensitive)
            rows.append(value)
            total += count
        write_rows(target, rows)
        payload = {"ok": True, "output": str(target), "records": len(rows), "replacements": total}
        print_json(payload) if json_output else console.print(
            f"{total} spans redacted in {len(rows)} records -> {target}"
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
        from tuneloop.data.split import split_dataset
        from tuneloop.data.writers import check_output, write_rows
        from tuneloop.errors import InvalidInput

        train_path = train_out or file.with_name(f"{file.stem}.train{file.suffix}")
        holdout_path = holdout_out or file.with_name(f"{file.stem}.holdout{file.suffix}")
        for path in (train_path, holdout_path):
            check_output(path, inputs=[file], force=force)
        loaded, settings = _load([file], format, [f for f in (group_by, stratify_by) if f])
        for name in (group_by, stratify_by):
            if name and not any(name in r.tags for r in loaded.records):
                raise InvalidInput("missing_key", f"no record has the field {name!r}", None)
        try:
            result = split_dataset(
                loaded.records,
                holdout=holdout,
                group_by=group_by,
                stratify_by=stratify_by,
                seed=seed,
                dedup=settings.dedup,
            )
        except ValueError as exc:
            raise InvalidInput("invalid_split", str(exc)) from None
        write_rows(train_path, [loaded.rows[i].value for i in result.train])
        write_rows(holdout_path, [loaded.rows[i].value for i in result.holdout])
        payload = {
            "ok": True,
            **result.to_dict(),
            "train_file": str(train_path),
            "holdout_file": str(holdout_path),
        }
        payload["moved_to_train"] = [
            {**m, "file": loaded.records[m["index"]].source.file, "line": loaded.records[m["index"]].source.line} for m in payload["moved_to_train"]
        ]  # fmt: skip
        if json_output:
            print_json(payload)
            return
        console.print(
            f"{result.method}: {len(result.train)} train -> {train_path}, {len(result.holdout)} holdout -> {holdout_path}"
        )
        for moved in payload["moved_to_train"][:50]:
            console.print(f"  moved to train {moved['file']}:{moved['line']}: {moved['reason']}")
        if result.strata:
            console.print("  strata: " + json.dumps(result.strata))
        console.print("verified: no exact or near duplicate (prompt or example) crosses the split")
