"""Read data files into raw rows, each with its exact 1-based line number.

- JSONL: streamed line by line in binary mode, so CRLF endings, a UTF-8 byte-order mark, invalid
  UTF-8 and NUL bytes are each reported on the right line without stopping the file.
- JSON: an array of examples; each element's line is where it starts (``raw_decode`` plus a running
  newline count). A file whose first value is an object is read as JSONL.
- CSV/TSV: a header row, then one example per record; a record's line is the line it starts on
  (quoted cells may span lines). Cells of structured columns (``messages``, ``chosen`` ...) holding
  JSON are decoded.
- Parquet: line = row index + 1 (Parquet has no lines).
- .txt / .md: raw domain text, cut into chunks of about ``chunk_tokens`` tokens at paragraph breaks;
  each chunk's line is the line its first paragraph starts on.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneloop.config.loader import unfit_value
from tuneloop.data.problems import ProblemLog

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
CSV_SUFFIXES = {".csv", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
SUPPORTED_SUFFIXES = JSONL_SUFFIXES | JSON_SUFFIXES | CSV_SUFFIXES | PARQUET_SUFFIXES | TEXT_SUFFIXES

# Columns whose CSV cells may hold JSON (lists of messages, tool definitions).
STRUCTURED_COLUMNS = {
    "messages",
    "conversations",
    "chosen",
    "rejected",
    "prompt",
    "completion",
    "input",
    "preferred_output",
    "non_preferred_output",
    "tools",
    "metadata",
}

_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = {
    b"\x00\x00\xfe\xff": "UTF-32 (big-endian)",
    b"\xff\xfe\x00\x00": "UTF-32 (little-endian)",
    b"\xff\xfe": "UTF-16 (little-endian)",
    b"\xfe\xff": "UTF-16 (big-endian)",
}
_BINARY_SIGNATURES = {
    b"\x1f\x8b": "a gzip archive",
    b"PK\x03\x04": "a zip archive (xlsx/docx?)",
    b"PAR1": "a Parquet file (use a .parquet extension)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"SQLite format 3": "an SQLite database",
}
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _after_space(text: str, pos: int) -> int:
    """The position after the JSON whitespace starting at ``pos``."""
    found = _WHITESPACE.match(text, pos)
    return found.end() if found is not None else pos  # the pattern also matches nothing


@dataclass(frozen=True)
class RawRow:
    """One example as read from a file, before format normalisation."""

    file: str
    line: int
    value: Any


TokenCounter = Callable[[str], int]


def approximate_tokens(text: str) -> int:
    """About 1.3 tokens per whitespace word for English BPE tokenizers (used when no tokenizer is given)."""
    return max(1, round(len(text.split()) * 1.3))


def read_rows(
    path: Path,
    name: str,
    log: ProblemLog,
    *,
    max_line_bytes: int,
    chunk_tokens: int = 512,
    count_tokens: TokenCounter = approximate_tokens,
) -> Iterator[RawRow]:
    """Raw rows of one file; problems go to ``log`` (the file keeps being read where that is possible)."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        yield from _read_parquet(path, name, log)
        return
    data = path.read_bytes()
    if not data.strip():
        log.error("empty_file", "the file is empty", name)
        return
    checked = _check_bytes(data, name, log)
    if checked is None:
        return
    data = checked
    if suffix in CSV_SUFFIXES:
        yield from _read_csv(
            data, name, log, delimiter="\t" if suffix == ".tsv" else ",", max_bytes=max_line_bytes
        )
    elif suffix in TEXT_SUFFIXES:
        text = _decode_whole(data, name, log)
        if text is not None:
            yield from chunk_document(text, name, chunk_tokens, count_tokens)
    elif suffix in JSON_SUFFIXES and data.lstrip()[:1] == b"[":
        yield from _read_json_array(data, name, log, max_line_bytes)
    else:
        yield from _read_jsonl(data, name, log, max_line_bytes)


def _check_bytes(data: bytes, name: str, log: ProblemLog) -> bytes | None:
    """Strip a UTF-8 BOM (warning); refuse UTF-16/32 and binary files with one clear problem."""
    for bom, encoding in _OTHER_BOMS.items():
        if data.startswith(bom):
            log.error("bad_encoding", f"the file is {encoding} text; convert it to UTF-8", name, 1)
            return None
    for signature, what in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            log.error("binary_data", f"the file is {what}, not text", name, 1)
            return None
    if data.startswith(_UTF8_BOM):
        log.warn("bom", "UTF-8 byte-order mark at the start of the file (skipped)", name, 1)
        data = data[len(_UTF8_BOM) :]
    head = data[:8192]
    if head.count(b"\x00") > 16:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        hint = " (UTF-16 text without a byte-order mark?)" if head[1::2].count(b"\x00") > 16 else ""
        log.error("binary_data", f"the file holds NUL bytes: binary data, not text{hint}", name, line)
        return None
    return data


def _row(name: str, line: int, value: Any, log: ProblemLog) -> RawRow | None:
    """The row, or None after reporting a value no stage could handle (see :func:`unfit_value`).
    Checked once here, so later stages can trust every row's depth and text."""
    if (reason := unfit_value(value)) is not None:
        code = "bad_encoding" if "surrogate" in reason else "invalid_json"
        log.error(code, reason, name, line)
        return None
    return RawRow(name, line, value)


def json_value(text: str) -> Any:
    """``json.loads`` whose only failure is :class:`json.JSONDecodeError` (see :func:`_guarded`)."""
    return _guarded(json.loads, text)


def _guarded(decode: Callable[..., Any], text: str, *at: int) -> Any:
    """Run a JSON decoder so that valid-looking JSON Python cannot read fails like a syntax error.

    Nesting deeper than the recursion limit raises RecursionError and an integer of more than 4,300
    digits ValueError; both are the file's problem, reported with its line, not internal errors."""
    try:
        return decode(text, *at)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply to read", text, at[0] if at else 0) from None
    except ValueError as exc:  # int() refusing an integer of thousands of digits
        reason = "an integer too long to read" if "digits" in str(exc) else str(exc)
        raise json.JSONDecodeError(reason, text, at[0] if at else 0) from None


def _decode_line(raw: bytes, name: str, line: int, log: ProblemLog) -> str | None:
    if b"\x00" in raw:
        column = raw.index(b"\x00") + 1
        log.error("binary_data", f"NUL byte at column {column}", name, line)
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        log.error(
            "bad_encoding",
            f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1} is not UTF-8 ({exc.reason})",
            name,
            line,
        )
        return None


def _decode_whole(data: bytes, name: str, log: ProblemLog) -> str | None:
    """Decode a whole file; report each bad line (not only the first) when it is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        for number, raw in enumerate(data.split(b"\n"), 1):
            _decode_line(raw, name, number, log)
        return None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        log.error("binary_data", "NUL byte in the text", name, line)
        return None
    return text


def _read_jsonl(data: bytes, name: str, log: ProblemLog, max_bytes: int) -> Iterator[RawRow]:
    found = False
    for number, raw in enumerate(data.split(b"\n"), 1):
        if len(raw) > max_bytes:
            log.error(
                "line_too_long",
                f"line of {len(raw):,} bytes exceeds data.max_line_bytes ({max_bytes:,})",
                name,
                number,
            )
            found = True
            continue
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        found = True
        text = _decode_line(raw, name, number, log)
        if text is None:
            continue
        try:
            value = json_value(text)
        except json.JSONDecodeError as exc:
            where = f" at column {exc.colno}" if exc.pos else ""
            log.error("invalid_json", f"{exc.msg}{where}", name, number)
            continue
        if (row := _row(name, number, value, log)) is not None:
            yield row
    if not found:
        log.error("empty_file", "the file holds no examples", name)


class _LineCounter:
    """Line number of a character offset, counting newlines incrementally (offsets only grow)."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def _read_json_array(data: bytes, name: str, log: ProblemLog, max_bytes: int) -> Iterator[RawRow]:
    text = _decode_whole(data, name, log)
    if text is None:
        return
    decoder, lines = json.JSONDecoder(), _LineCounter(text)
    pos = _after_space(text, 0) + 1  # past '['
    count = 0
    while True:
        pos = _after_space(text, pos)
        if pos >= len(text):
            log.error("invalid_json", "the array is not closed with ']'", name, lines.at(pos))
            return
        if text[pos] == "]":
            break
        start = pos
        try:
            value, pos = _guarded(decoder.raw_decode, text, pos)
        except json.JSONDecodeError as exc:
            # No safe way to find the next element after a syntax error inside an array.
            log.error(
                "invalid_json", f"{exc.msg} at column {exc.colno} (reading stopped here)", name, exc.lineno
            )
            return
        line = lines.at(start)
        count += 1
        if pos - start > max_bytes:
            log.error(
                "line_too_long",
                f"element of {pos - start:,} characters exceeds data.max_line_bytes",
                name,
                line,
            )
        elif (row := _row(name, line, value, log)) is not None:
            yield row
        pos = _after_space(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos >= len(text):
            log.error("invalid_json", "the array is not closed with ']'", name, lines.at(len(text.rstrip())))
            return
        elif text[pos] != "]":
            found = repr(text[pos])
            log.error(
                "invalid_json", f"expected ',' or ']' after an element, found {found}", name, lines.at(pos)
            )
            return
    if count == 0:
        log.error("empty_file", "the array holds no examples", name, 1)


def _read_csv(data: bytes, name: str, log: ProblemLog, *, delimiter: str, max_bytes: int) -> Iterator[RawRow]:
    text = _decode_whole(data, name, log)
    if text is None:
        return
    csv.field_size_limit(max(max_bytes, 131072))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        log.error("invalid_csv", f"no header row ({exc})" if str(exc) else "no header row", name, 1)
        return
    header = [h.strip() for h in header]
    if not any(header) or len(set(header)) != len(header):
        log.error("invalid_csv", f"the header row {header} has empty or repeated column names", name, 1)
        return
    start, count = reader.line_num + 1, 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            log.error("invalid_csv", str(exc), name, reader.line_num)
            return
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        count += 1
        if len(row) != len(header):
            log.error("invalid_csv", f"the row has {len(row)} cells, the header {len(header)}", name, line)
            continue
        cells = {key: _csv_cell(key, cell) for key, cell in zip(header, row, strict=True)}
        if (parsed := _row(name, line, cells, log)) is not None:
            yield parsed
    if count == 0:
        log.error("empty_file", "the CSV file has a header but no rows", name, 1)


def _csv_cell(column: str, cell: str) -> Any:
    if column in STRUCTURED_COLUMNS and cell.lstrip()[:1] in ("[", "{"):
        try:
            return json_value(cell)
        except json.JSONDecodeError:
            return cell
    return cell


def _read_parquet(path: Path, name: str, log: ProblemLog) -> Iterator[RawRow]:
    try:
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist(maps_as_pydicts="lossy")
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        log.error("invalid_parquet", f"cannot read the Parquet file: {exc}", name)
        return
    if not rows:
        log.error("empty_file", "the Parquet file has no rows", name)
        return
    for index, values in enumerate(rows):
        try:
            plain = _json_from_arrow(values)
        except UnicodeDecodeError as exc:
            log.error("bad_encoding", f"a binary value is not UTF-8 text ({exc.reason})", name, index + 1)
            continue
        if (row := _row(name, index + 1, plain, log)) is not None:
            yield row


def _json_from_arrow(value: Any) -> Any:
    """A Parquet value as the JSON value it stands for, so rows from every container are alike (and
    can be written back as JSON): timestamps and dates as ISO text, decimals as numbers, durations
    as seconds, binary as UTF-8 text (older writers store text as binary)."""
    if isinstance(value, dict):
        return {str(k): _json_from_arrow(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_from_arrow(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return str(value)


def chunk_document(text: str, name: str, chunk_tokens: int, count_tokens: TokenCounter) -> Iterator[RawRow]:
    """Cut raw text into chunks of at most ``chunk_tokens`` at paragraph breaks (a longer paragraph is
    cut at sentence ends, then at words). Each chunk's line is where its first paragraph starts."""
    paragraphs: list[tuple[int, str]] = []
    current: list[str] = []
    start = 1
    for number, row in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if row.strip():
            if not current:
                start = number
            current.append(row)
        elif current:
            paragraphs.append((start, "\n".join(current)))
            current = []
    if current:
        paragraphs.append((start, "\n".join(current)))
    pieces: list[tuple[int, str]] = []
    for line, paragraph in paragraphs:
        pieces.extend((line, part) for part in _split_long(paragraph, chunk_tokens, count_tokens))
    chunk: list[str] = []
    chunk_line, used = 1, 0
    for line, piece in pieces:
        size = count_tokens(piece)
        if chunk and used + size > chunk_tokens:
            yield RawRow(name, chunk_line, {"text": "\n\n".join(chunk)})
            chunk, used = [], 0
        if not chunk:
            chunk_line = line
        chunk.append(piece)
        used += size
    if chunk:
        yield RawRow(name, chunk_line, {"text": "\n\n".join(chunk)})


def _split_long(paragraph: str, budget: int, count_tokens: TokenCounter) -> list[str]:
    if count_tokens(paragraph) <= budget:
        return [paragraph]
    units = re.split(r"(?<=[.!?])\s+", paragraph)
    if len(units) == 1:
        units = paragraph.split()
    parts, current = [], ""
    for unit in units:
        candidate = f"{current} {unit}".strip()
        if current and count_tokens(candidate) > budget:
            parts.append(current)
            current = unit
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts
