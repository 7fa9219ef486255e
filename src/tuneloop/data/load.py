"""Load data files into canonical records: read, detect the format per file, normalise, report.

:func:`load_records` is what the other stages call; :func:`load_dataset` also returns the raw rows
(for the sensitive-data scan, dedup, split and redact, which write rows back in their own format),
the detected format of each file and the warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tuneloop.data.formats import FORMATS, detect_format, normalise_row
from tuneloop.data.messages import RowContext
from tuneloop.data.problems import DataInvalid, Problem, ProblemLog
from tuneloop.data.readers import SUPPORTED_SUFFIXES, RawRow, approximate_tokens, read_rows
from tuneloop.data.records import Record

DEFAULT_TAG_FIELDS = ["category", "intent"]


@dataclass
class FileInfo:
    """What was read from one file."""

    path: str
    format: str | None
    rows: int
    records: int


@dataclass
class LoadedDataset:
    """Records with the raw rows they came from (``rows[i]`` produced ``records[i]``)."""

    records: list[Record]
    rows: list[RawRow]
    files: list[FileInfo]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def kind(self) -> str:
        kinds = {record.kind for record in self.records}
        return kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "empty")


def loaded_from_records(parts: list[tuple[str, list[Record]]]) -> LoadedDataset:
    """Records that are already canonical (a registered version, curated production examples) in the
    shape the data check reads: each part is one "file" named by its label, and each record's raw
    row is its canonical JSON, so the sensitive-data scan sees every field."""
    records: list[Record] = []
    rows: list[RawRow] = []
    files: list[FileInfo] = []
    for label, part in parts:
        for record in part:
            value = record.model_dump(mode="json", exclude_none=True)
            rows.append(RawRow(record.source.file, record.source.line, value))
        records.extend(part)
        files.append(FileInfo(path=label, format="canonical", rows=len(part), records=len(part)))
    return LoadedDataset(records, rows, files)


def display_name(path: Path) -> str:
    """A path as the user would write it: relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def expand_paths(paths: list[Path], log: ProblemLog) -> list[Path]:
    """Files named directly, plus every supported file inside named folders (sorted, hidden ones skipped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
            )
            if not inside:
                log.error(
                    "empty_file",
                    "the folder holds no .jsonl/.json/.csv/.parquet/.txt/.md files",
                    display_name(path),
                )
            files.extend(inside)
        elif not path.exists():
            log.error("file_not_found", "no such file or folder", display_name(path))
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            log.error(
                "unsupported_file_type",
                f"cannot read {path.suffix or 'files without an extension'} (supported: {supported})",
                display_name(path),
            )
        else:
            files.append(path)
    return files


def load_dataset(
    paths: list[Path],
    *,
    format: str | None = None,
    tag_fields: list[str] | None = None,
    max_problems: int = 200,
    max_line_bytes: int = 4 * 1024 * 1024,
    chunk_tokens: int = 512,
    count_tokens: Callable[[str], int] | None = None,
) -> LoadedDataset:
    """Read and normalise ``paths``; raise :class:`DataInvalid` listing every problem if any is invalid."""
    if format is not None and format not in FORMATS:
        raise DataInvalid(
            [Problem("unknown_format", f"unknown format {format!r}; known: {', '.join(FORMATS)}", "--format")]
        )
    tags = DEFAULT_TAG_FIELDS if tag_fields is None else tag_fields
    log = ProblemLog(limit=max_problems)
    records: list[Record] = []
    kept_rows: list[RawRow] = []
    files: list[FileInfo] = []
    for path in expand_paths(paths, log):
        name = display_name(path)
        rows = list(
            read_rows(path, name, log, max_line_bytes=max_line_bytes, chunk_tokens=chunk_tokens,
                      count_tokens=count_tokens or approximate_tokens)
        )  # fmt: skip
        chosen = format
        if chosen is None and rows:
            detection = detect_format(rows)
            if detection.problem is not None:
                log.error(detection.problem[0], detection.problem[1], name, rows[0].line)
                files.append(FileInfo(name, None, len(rows), 0))
                continue
            chosen = detection.format
        before = len(records)
        for row in rows:
            ctx = RowContext(log, name, row.line)
            if chosen is None:
                normalise_row(row, "openai-chat", tags, ctx)  # only reports data_type for non-objects
                continue
            record = normalise_row(row, chosen, tags, ctx)
            if record is not None:
                records.append(record)
                kept_rows.append(row)
        files.append(FileInfo(name, chosen, len(rows), len(records) - before))
    if not log.errors and not records:
        log.error(
            "empty_file",
            "no examples in the given files",
            ", ".join(display_name(p) for p in paths) or "(none)",
        )
    log.raise_if_errors()
    return LoadedDataset(records, kept_rows, files, log.warnings)


def load_records(
    paths: list[Path],
    *,
    format: str | None = None,
    tag_fields: list[str] | None = None,
    max_problems: int = 200,
) -> list[Record]:
    """Load and normalise ``paths`` into canonical records.

    Raises :class:`~tuneloop.data.problems.DataInvalid` (exit code 2) whose ``problems`` list every
    problem as ``file:line:field: code message`` when anything is invalid.
    """
    return load_dataset(paths, format=format, tag_fields=tag_fields, max_problems=max_problems).records
