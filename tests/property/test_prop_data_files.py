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
    located = [line for line in outcome.stderr.splitlines() if line and not line.startswith(("invalid data", "..."))]
    assert located and all(ERROR_LINE.match(line) for line in located), outcome.stderr


@pytest.mark.parametrize("format_name", sorted(FORMAT_ROWS))
@given(data=st.data(), container=st.sampled_from(CONTAINERS))
def test_data_check_reports_any_value_in_any_field(prop_project: Path, format_name: str, container: str, data) -> None:
    rows = list(FORMAT_ROWS[format_name])
    rows[1] = data.draw(mutations(rows[1]), label="mutated row")
    folder = unique_dir(prop_project, _COUNTER)
    path = folder / f"train.{container}"
    try:
        lines = write_rows(path, rows)
    except ValueError:
        assume(False)  # Parquet cannot hold this mix of types: no user can give it either
        return
    outcome = run_cli("data", "check", path, "--json", "--no-register", cwd=prop_project)
    assert_clean(outcome, f"data check {path.name} with row {json.dumps(rows[1], default=str)[:400]}")
    if outcome.exit_code == 2:
        assert_located(outcome, path.name, lines, lines[1], container)


_COUNTER = [0]
