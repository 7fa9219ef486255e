"""Write rows to JSONL, JSON, CSV or Parquet atomically (temp file + rename), never over an input.

The output type follows the extension. An existing output is refused unless ``force``; writing onto
one of the inputs is refused unless ``in_place`` (a user's data is never overwritten by accident).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tuneloop.errors import InvalidInput, Location
from tuneloop.store import atomic_write_bytes, atomic_write_lines

WRITABLE = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet")


def check_output(path: Path, *, inputs: list[Path], force: bool, in_place: bool = False) -> None:
    """Refuse an output that exists (without ``force``) or is an input (without ``in_place``)."""
    if path.suffix.lower() not in WRITABLE:
        raise InvalidInput(
            "unsupported_output",
            f"cannot write {path.suffix or 'no extension'}; use one of {', '.join(WRITABLE)}",
            Location(str(path)),
        )
    resolved = path.resolve()
    if any(resolved == p.resolve() for p in inputs) and not in_place:
        raise InvalidInput(
            "output_is_input",
            "the output is one of the inputs; pass --in-place to replace it",
            Location(str(path)),
        )
    if path.exists() and not force and not in_place:
        raise InvalidInput(
            "output_exists", "the output exists; pass --force to replace it", Location(str(path))
        )


def write_rows(path: Path, rows: list[Any]) -> None:
    """Write ``rows`` (JSON-like values) in the format the extension names."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):  # streamed: a large dataset is never one string
        atomic_write_lines(path, (json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    else:
        atomic_write_bytes(path, encode_rows(path, rows))


def write_all(outputs: list[tuple[Path, list[Any]]]) -> None:
    """Write several outputs (a split's train and holdout) all or nothing: every file is encoded in
    memory before the first is written, so rows one format cannot hold leave no file behind."""
    encoded = [(path, encode_rows(path, rows)) for path, rows in outputs]
    for path, data in encoded:
        atomic_write_bytes(path, data)


def encode_rows(path: Path, rows: list[Any]) -> bytes:
    """``rows`` as the bytes of the format ``path``'s extension names; raises :class:`InvalidInput`
    when that format cannot hold them (Parquet's one type per column)."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if suffix == ".json":
        return (json.dumps(rows, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if suffix in (".csv", ".tsv"):
        return _csv_bytes(rows, "\t" if suffix == ".tsv" else ",")
    return _parquet_bytes(path, rows)


def _csv_bytes(rows: list[Any], delimiter: str) -> bytes:
    columns: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else {"value": row}:
            if key not in columns:
                columns.append(key)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        values = row if isinstance(row, dict) else {"value": row}
        writer.writerow([_cell(values.get(c)) for c in columns])
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _parquet_bytes(path: Path, rows: list[Any]) -> bytes:
    """The whole file in memory: a failure leaves nothing behind, not even a folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = pa.BufferOutputStream()
    try:
        pq.write_table(pa.Table.from_pylist(rows), buffer)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        # Parquet needs one type per column; JSON rows may mix them (a field that is text in one
        # row and a list in another, tool definitions of different shapes).
        raise InvalidInput(
            "unwritable_output",
            f"the rows cannot be stored as Parquet columns ({exc}); write .jsonl or .json instead",
            Location(str(path)),
        ) from None
    return bytes(buffer.getvalue().to_pybytes())
