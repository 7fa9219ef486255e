"""The data verbs as stage functions: each does the whole job of ``tuneloop data <verb>``.

:func:`check_data` (defaults from the project's ``data:`` section, then :func:`check_dataset`, which
stores the report and registers the version), :func:`convert_files`, :func:`dedup_files`,
:func:`redact_files` and :func:`split_file` (read, change, write atomically; an existing output is
refused without ``force``) and :func:`describe_version`. They
return what they did as plain values whose ``to_dict()`` is the verb's ``--json`` document (without
``ok``), and never print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneloop.config.data import DataSection
from tuneloop.data.check import DataCheckResult, check_dataset
from tuneloop.data.load import LoadedDataset, load_dataset
from tuneloop.data.versions import DatasetVersionInfo, get_dataset_version
from tuneloop.errors import InvalidInput
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project


def config_paths(project: Project | None, files: list[Path] | None, key: str) -> list[Path]:
    """The files given, else those in the project's ``data.<key>`` (``train``, ``holdout``)."""
    if files:
        return files
    configured: list[str] = getattr(project.config.data, key) if project is not None else []
    return [project.resolve_path(p) for p in configured] if project is not None else []


def check_data(
    project: Project | None,
    files: list[Path] | None = None,
    *,
    holdout: list[Path] | None = None,
    goal: str | None = None,
    format: str | None = None,
    production_sample: Path | None = None,
    embeddings: bool = True,
    max_length: int | None = None,
    estimate_time: bool = False,
    model: str | None = None,
    report_path: Path | None = None,
    name: str | None = None,
    register: bool = True,
    progress: Progress = SILENT,
) -> DataCheckResult:
    """Check ``files`` (default ``data.train``) against ``holdout`` (default ``data.holdout``) and the
    production sample (default ``data.production_sample``); store the report, register the version."""
    if goal is not None and goal not in ("behaviour", "domain"):
        raise InvalidInput("invalid_option", f"--goal must be behaviour or domain, not {goal!r}")
    paths = config_paths(project, files, "train")
    if not paths:
        raise InvalidInput("no_data", "no files given and no data.train in tuneloop.yaml")
    sample = production_sample
    if sample is None and project is not None and project.config.data.production_sample:
        sample = project.resolve_path(project.config.data.production_sample)
    return check_dataset(
        project, paths, goal=goal, holdout=config_paths(project, holdout, "holdout") or None,
        production_sample=sample, max_length=max_length, embeddings=embeddings, register=register,
        format=format, model=model, estimate_time=estimate_time, name=name, report_path=report_path,
        progress=progress,
    )  # fmt: skip


def _settings(project: Project | None) -> DataSection:
    return project.config.data if project is not None else DataSection()


def _load(project: Project | None, files: list[Path], format: str | None,
          extra_tags: list[str] | None = None) -> tuple[LoadedDataset, DataSection]:  # fmt: skip
    settings = _settings(project)
    tags = list(dict.fromkeys(settings.tag_fields + (extra_tags or [])))
    return load_dataset(files, format=format or settings.format, tag_fields=tags, max_problems=settings.max_problems,
                        max_line_bytes=settings.max_line_bytes, chunk_tokens=settings.chunk_tokens), settings  # fmt: skip


@dataclass
class Converted:
    output: Path
    records: int
    format: str

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "records": self.records, "format": self.format}


def convert_files(
    project: Project | None,
    files: list[Path],
    to: str,
    output: Path,
    *,
    format: str | None = None,
    force: bool = False,
) -> Converted:
    """Write ``files`` as ``to`` (openai-chat, trl-preference, openai-preference) to ``output``."""
    from tuneloop.data.convert import CONVERTERS, NotConvertible
    from tuneloop.data.problems import ProblemLog
    from tuneloop.data.writers import check_output, write_rows

    if to not in CONVERTERS:
        raise InvalidInput("invalid_option", f"--to must be one of {', '.join(CONVERTERS)}, not {to!r}")
    check_output(output, inputs=files, force=force)
    loaded, settings = _load(project, files, format)
    log, rows = ProblemLog(limit=settings.max_problems), []
    for record in loaded.records:
        try:
            rows.append(CONVERTERS[to](record))
        except NotConvertible as exc:
            log.error("not_convertible", str(exc), record.source.file, record.source.line)
    log.raise_if_errors()
    write_rows(output, rows)
    return Converted(output, len(rows), to)


@dataclass
class Deduplicated:
    records: int
    removed: int
    clusters: int
    method: dict[str, str]
    """How duplicates were found and which example of a cluster was kept."""
    output: Path | None
    """None on a dry run."""
    log: Path | None
    removals: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "removed": self.removed, "kept": self.records - self.removed,
                "clusters": self.clusters, "method": self.method,
                "output": None if self.output is None else str(self.output),
                "log": None if self.log is None else str(self.log), "removals": self.removals}  # fmt: skip


def dedup_files(
    project: Project | None,
    files: list[Path],
    output: Path,
    *,
    log_file: Path | None = None,
    dry_run: bool = False,
    format: str | None = None,
    force: bool = False,
) -> Deduplicated:
    """Remove exact and near duplicates (keeping the first of each cluster) and write a removal log
    (default ``OUTPUT.removed.jsonl``); ``dry_run`` writes nothing."""
    from tuneloop.data.dedup import find_duplicates
    from tuneloop.data.text import full_text, preview
    from tuneloop.data.writers import check_output, write_all

    log_path = log_file or output.with_name(output.stem + ".removed.jsonl")
    if not dry_run:
        check_output(output, inputs=files, force=force)
        check_output(log_path, inputs=files, force=force)
    loaded, settings = _load(project, files, format)
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
        write_all([(output, [row.value for i, row in enumerate(loaded.rows) if i not in removed]),
                   (log_path, entries)])  # fmt: skip
    return Deduplicated(len(records), len(removed), len(report.clusters), report.method,
                        None if dry_run else output, None if dry_run else log_path, entries)  # fmt: skip


@dataclass
class Redacted:
    output: Path
    records: int
    replacements: int

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "records": self.records, "replacements": self.replacements}


def redact_files(
    project: Project | None,
    files: list[Path],
    output: Path | None = None,
    *,
    in_place: bool = False,
    format: str | None = None,
    force: bool = False,
) -> Redacted:
    """Write a copy (or, ``in_place``, the single input) with personal data and secrets replaced by
    type markers such as ``[EMAIL]``."""
    from tuneloop.data.sensitive import redact_value
    from tuneloop.data.writers import check_output, write_rows

    if in_place and (output is not None or len(files) != 1):
        raise InvalidInput("invalid_option", "--in-place takes exactly one input file and no --output")
    if output is None and not in_place:
        raise InvalidInput("invalid_option", "give --output FILE (or --in-place to replace the input)")
    target = files[0] if in_place or output is None else output
    check_output(target, inputs=files, force=force, in_place=in_place)
    loaded, settings = _load(project, files, format)
    rows, total = [], 0
    for row in loaded.rows:
        value, count = redact_value(row.value, settings.sensitive)
        rows.append(value)
        total += count
    write_rows(target, rows)
    return Redacted(target, len(rows), total)


@dataclass
class SplitFiles:
    """A split written to two files; ``split`` is :meth:`SplitResult.to_dict` with file and line of
    each example moved to train."""

    method: str
    train: int
    holdout: int
    train_file: Path
    holdout_file: Path
    split: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.split, "train_file": str(self.train_file), "holdout_file": str(self.holdout_file)}


def split_file(
    project: Project | None,
    file: Path,
    *,
    holdout: float = 0.1,
    group_by: str | None = None,
    stratify_by: str | None = None,
    seed: int = 42,
    train_out: Path | None = None,
    holdout_out: Path | None = None,
    format: str | None = None,
    force: bool = False,
) -> SplitFiles:
    """Split ``file`` into train and holdout files (default ``FILE.train<ext>``/``FILE.holdout<ext>``):
    group-aware, stratified, verified free of cross-split duplicates."""
    from tuneloop.data.split import split_dataset
    from tuneloop.data.writers import check_output, write_all

    train_path = train_out or file.with_name(f"{file.stem}.train{file.suffix}")
    holdout_path = holdout_out or file.with_name(f"{file.stem}.holdout{file.suffix}")
    for path in (train_path, holdout_path):
        check_output(path, inputs=[file], force=force)
    loaded, settings = _load(project, [file], format, [f for f in (group_by, stratify_by) if f])
    for name in (group_by, stratify_by):
        if name and not any(name in r.tags for r in loaded.records):
            raise InvalidInput("missing_key", f"no record has the field {name!r}", None)
    try:
        result = split_dataset(loaded.records, holdout=holdout, group_by=group_by, stratify_by=stratify_by,
                               seed=seed, dedup=settings.dedup)  # fmt: skip
    except ValueError as exc:
        raise InvalidInput("invalid_split", str(exc)) from None
    # all or nothing: a holdout one format cannot hold must not leave the train file written alone
    write_all([(train_path, [loaded.rows[i].value for i in result.train]),
               (holdout_path, [loaded.rows[i].value for i in result.holdout])])  # fmt: skip
    document = result.to_dict()
    document["moved_to_train"] = [
        {
            "index": i,
            "reason": reason,
            "file": loaded.records[i].source.file,
            "line": loaded.records[i].source.line,
        }
        for i, reason in result.moved
    ]
    return SplitFiles(
        result.method, len(result.train), len(result.holdout), train_path, holdout_path, document
    )


@dataclass
class DescribedVersion:
    """A dataset version and where its report and snapshot lie."""

    info: DatasetVersionInfo
    report_html_path: Path | None
    snapshot_path: Path | None

    def to_dict(self) -> dict[str, Any]:
        payload = self.info.to_dict()
        if self.report_html_path is not None:
            payload["report_html_path"] = str(self.report_html_path)
        if self.snapshot_path is not None:
            payload["snapshot_path"] = str(self.snapshot_path)
        return payload


def describe_version(project: Project, ref: str) -> DescribedVersion:
    """Dataset version ``ref`` (id, digest prefix or name) with its artifact paths."""
    info = get_dataset_version(project, ref)
    html = project.artifacts.blob_path(info.report_html_sha256) if info.report_html_sha256 else None
    snapshot = project.artifacts.blob_path(info.snapshot_sha256) if info.snapshot_sha256 else None
    return DescribedVersion(info, html, snapshot)
