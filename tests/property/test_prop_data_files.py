"""Property tests: any JSON value in any field of a data file never crashes `tuneloop data check`.

For every format and container (JSONL, JSON array, CSV, Parquet) the middle of three valid rows is
mutated; the check must exit 0, 1 or 2 without a traceback, and an exit 2 must list problems that name
the file, a line (the mutated row's, where the container has lines and the other rows stay valid) and,
for problems inside a record, the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datadocs import CONTAINERS, FORMAT_ROWS, has_lines, write_rows
from hypothesis import assume, given
from hypothesis import strategies as st
from propkit import ERROR_LINE, assert_clean, error_locations, mutations, run_cli, unique_dir

# Problems about a whole file or a whole row (no field inside a record to name).
WHOLE_ROW_CODES = {
    "data_type", "invalid_json", "bad_encoding", "binary_data", "line_too_long", "unknown_format",
    "ambiguous_format", "empty_file", "file_not_found", "unsupported_file_type", "invalid_csv",
    "invalid_parquet",
}  # fmt: skip
FILE_LEVEL_CODES = {"unknown_format", "ambiguous_format", "empty_file", "invalid_parquet"}


def assert_located(outcome, name: str, lines: list[int], mutated_line: int, container: str) -> None:
    """Every problem names the file; rows' problems a line (the mutated row's) and a field."""
    for problem in error_locations(outcome):
        assert problem.get("file") and problem["file"].endswith(name), problem
        code = problem["code"]
        if code in FILE_LEVEL_CODES:
            continue
        if has_lines(container) or code not in WHOLE_ROW_CODES:
            assert problem.get("line") is not None, problem
        if container in ("jsonl", "json"):
            # the other rows are valid and keep the format, so only the mutated row can be at fault
            assert problem["line"] == mutated_line, (problem, mutated_line)
        elif problem.get("line") is not None:
            assert problem["line"] in lines or container == "csv", (problem, lines)
        if code not in WHOLE_ROW_CODES:
            assert problem.get("field"), problem
    located = [
        line for line in outcome.stderr.splitlines() if line and not line.startswith(("invalid data", "..."))
    ]
    assert located and all(ERROR_LINE.match(line) for line in located), outcome.stderr


@pytest.mark.parametrize("format_name", sorted(FORMAT_ROWS))
@given(data=st.data(), container=st.sampled_from(CONTAINERS))
def test_data_check_reports_any_value_in_any_field(
    prop_project: Path, format_name: str, container: str, data
) -> None:
    rows = list(FORMAT_ROWS[format_name])
    rows[1] = data.draw(mutations(rows[1]), label="mutated row")
    folder = unique_dir(prop_project, _COUNTER)
    path = folder / f"train.{container}"
    try:
        lines = write_rows(path, rows)
    except ValueError:
        assume(False)  # Parquet cannot hold this mix of types: no user can give it either
        return
    as_json = data.draw(st.booleans(), label="--json")  # the terminal summary prints record text too
    outcome = run_cli(
        "data", "check", path, *(["--json"] if as_json else []), "--no-register", cwd=prop_project
    )
    assert_clean(outcome, f"data check {path.name} with row {json.dumps(rows[1], default=str)[:400]}")
    if outcome.exit_code == 2 and as_json:
        assert_located(outcome, path.name, lines, lines[1], container)


_COUNTER = [0]


RAW_PLACEHOLDER = "\u0001raw\u0001"
raw_json = st.one_of(
    st.integers(50, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(50, 3000).map(lambda depth: '{"a": ' * depth + "1" + "}" * depth),
    st.integers(4000, 6000).map(lambda digits: "9" * digits),
    st.sampled_from(["NaN", "-Infinity", "1e999", "-0", '"\\ud800"', '"\\u0000"']),
)
"""Valid JSON text that Python's reader or later serialisers may refuse: deep nesting, 5,000-digit
integers, NaN and infinities, escaped lone surrogates and NUL characters."""


@pytest.mark.parametrize("format_name", ["openai-chat", "alpaca", "trl-preference"])
@given(data=st.data(), container=st.sampled_from(["jsonl", "json", "csv"]))
def test_data_check_reports_json_python_cannot_hold(
    prop_project: Path, format_name: str, container: str, data
) -> None:
    rows = [json.dumps(row) for row in FORMAT_ROWS[format_name]]
    template = json.loads(rows[1])
    paths = list(_leaf_positions(template))
    target = data.draw(st.sampled_from(paths), label="field")
    parent = template
    for key in target[:-1]:
        parent = parent[key]
    parent[target[-1]] = RAW_PLACEHOLDER
    raw = data.draw(raw_json, label="raw value")
    rows[1] = json.dumps(template).replace(json.dumps(RAW_PLACEHOLDER), raw)
    folder = unique_dir(prop_project, _COUNTER)
    path = folder / f"train.{container}"
    if container == "jsonl":
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        lines = [1, 2, 3]
    elif container == "json":
        path.write_text("[\n" + ",\n".join(rows) + "\n]\n", encoding="utf-8")
        lines = [2, 3, 4]
    else:
        lines = _write_raw_csv(path, rows)
    outcome = run_cli("data", "check", path, "--json", "--no-register", cwd=prop_project)
    assert_clean(outcome, f"data check {path.name} with {raw[:60]}... at {target}")
    if outcome.exit_code == 2:
        assert_located(outcome, path.name, lines, lines[1], container)


def _leaf_positions(doc, here=()):
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield (*here, key)
        yield from _leaf_positions(value, (*here, key))


def _write_raw_csv(path: Path, rows: list[str]) -> list[int]:
    """Rows whose top-level values are JSON text, as CSV cells (structured columns hold JSON)."""
    import csv
    import io

    decoded = [_top_level_texts(row) for row in rows]
    columns = list(dict.fromkeys(key for row in decoded for key in row))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    lines = []
    for row in decoded:
        lines.append(buffer.getvalue().count("\n") + 1)
        writer.writerow([row.get(c, "") for c in columns])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return lines


def _top_level_texts(row: str) -> dict[str, str]:
    """Each top-level value of a JSON object as its own JSON text (strings unquoted), without parsing
    the values (they may be what Python cannot parse)."""
    decoder = json.JSONDecoder()
    out: dict[str, str] = {}
    pos = 1
    while row[pos] != "}":
        key, pos = decoder.raw_decode(row, pos)
        pos = row.index(":", pos) + 1
        start = end = pos
        depth, in_string = 0, False
        while True:
            char = row[end]
            if in_string:
                in_string = char != '"' or row[end - 1] == "\\"
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
            elif char in "]}" and depth:
                depth -= 1
            elif char in ",}" and not depth:
                break
            end += 1
        text = row[start:end].strip()
        out[key] = json.loads(text) if text.startswith('"') and "\\u" not in text else text
        pos = end + 1 if row[end] == "," else end
        while row[pos] == " ":
            pos += 1
    return out


def test_terminal_summary_prints_markup_in_records_as_text(prop_project: Path) -> None:
    """A category such as ``[/]`` ends the terminal summary with rich's MarkupError (exit 3)."""
    folder = unique_dir(prop_project, _COUNTER)
    path = folder / "train.jsonl"
    rows = [dict(row, category="[/]") for row in FORMAT_ROWS["openai-chat"]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    outcome = run_cli("data", "check", path, "--no-register", cwd=prop_project)
    assert_clean(outcome, "data check with category '[/]'")
