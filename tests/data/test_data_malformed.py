"""The malformed-data corpus: every file gives the right codes on the right lines, exit 2, no traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from datahelpers import FIXTURES

from tuneloop.data import PROBLEM_CODES, DataInvalid, load_records

EXPECTED: dict[str, list[list[object]]] = json.loads((FIXTURES / "expected.json").read_text())
MALFORMED = FIXTURES / "malformed"
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+)?:?(?P<field>[^ ]*):? (?P<code>[a-z_]+) .+$")


def test_corpus_is_large_and_covers_every_reading_and_format_code() -> None:
    assert len(EXPECTED) >= 40
    produced = {code for problems in EXPECTED.values() for _, code in problems}
    # file_not_found, line_too_long, not_convertible and bom are exercised by the tests below
    assert set(PROBLEM_CODES) - produced <= {"file_not_found", "line_too_long", "not_convertible", "bom"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_malformed_file_reports_its_codes_and_lines(name: str) -> None:
    with pytest.raises(DataInvalid) as caught:
        load_records([MALFORMED / name])
    found = {(problem.line or 0, problem.code) for problem in caught.value.problems}
    for line, code in EXPECTED[name]:
        assert (line, code) in found, f"{name}: expected {code} at line {line}, got {sorted(found)}"
    for problem in caught.value.problems:
        assert problem.code in PROBLEM_CODES
        assert problem.file.endswith(name)


def test_cli_exits_2_with_one_line_per_problem_and_no_traceback(cli, project_dir: Path) -> None:
    for name in sorted(EXPECTED):
        result = cli("data", "check", str(MALFORMED / name), "--no-register")
        assert result.exit_code == 2, (name, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        lines = [
            line
            for line in result.stderr.splitlines()
            if line and not line.startswith(("invalid data", "..."))
        ]
        assert lines and all(LINE.match(line) for line in lines), (name, result.stderr)


def test_problems_are_capped_with_a_count_of_the_rest() -> None:
    with pytest.raises(DataInvalid) as caught:
        load_records([MALFORMED / "many_errors.jsonl"])
    assert len(caught.value.problems) == 200
    assert caught.value.omitted == 60
    assert "60 more problems" in str(caught.value)


def test_a_ten_megabyte_line_is_reported_and_the_rest_still_checked(tmp_path: Path) -> None:
    good = json.dumps(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    )
    huge = json.dumps({"messages": [{"role": "user", "content": "x" * 10_000_000}]})
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join([good, huge, good, "{broken"]) + "\n")
    with pytest.raises(DataInvalid) as caught:
        load_records([path])
    found = {(p.line, p.code) for p in caught.value.problems}
    assert found == {(2, "line_too_long"), (4, "invalid_json")}


def test_bom_is_a_warning_and_line_numbers_stay_right(tmp_path: Path) -> None:
    from tuneloop.data import load_dataset

    good = json.dumps(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    )
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + f"{good}\r\n\r\n{good}\r\n".encode())
    loaded = load_dataset([path])
    assert [r.source.line for r in loaded.records] == [1, 3]
    assert [(w.code, w.line) for w in loaded.warnings] == [("bom", 1)]


def test_missing_files_and_problems_in_several_files_are_all_listed(tmp_path: Path) -> None:
    with pytest.raises(DataInvalid) as caught:
        load_records(
            [tmp_path / "nope.jsonl", MALFORMED / "invalid_json.jsonl", MALFORMED / "no_assistant.jsonl"]
        )
    codes = [(Path(p.file).name, p.code) for p in caught.value.problems]
    assert codes == [("nope.jsonl", "file_not_found"), ("invalid_json.jsonl", "invalid_json"),
                     ("no_assistant.jsonl", "example_missing_assistant_message")]  # fmt: skip


def test_json_output_lists_every_problem(cli, project_dir: Path) -> None:
    result = cli("data", "check", str(MALFORMED / "data_type.jsonl"), "--no-register", "--json")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert [(p["line"], p["code"]) for p in payload["error"]["problems"]] == [
        (2, "data_type"),
        (3, "data_type"),
    ]


def test_every_problem_code_is_documented_with_an_example() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "data.md").read_text(encoding="utf-8")
    missing = [code for code in PROBLEM_CODES if f"| `{code}` |" not in docs]
    assert missing == []


def _chat_line(**message_fields: object) -> str:
    first = {"role": "user", "content": "hi", **message_fields}
    return json.dumps({"messages": [first, {"role": "assistant", "content": "hello"}]})


GOOD_LINE = _chat_line()
# Valid JSON that once ended `data check` with an internal error (exit 3); found by the property
# tests in tests/property. Each is now a problem on its own line, exit 2.
CRASHERS: dict[str, tuple[str, str, str | None]] = {
    # name: (line 2 of a JSONL file, expected code, expected field)
    "role_is_a_list": (_chat_line(role=["user"]), "unrecognized_role", "messages[0].role"),
    "role_is_an_object": (_chat_line(role={"a": 1}), "unrecognized_role", "messages[0].role"),
    "nested_5000_deep": ("[" * 5000 + "]" * 5000, "invalid_json", None),
    "integer_of_5000_digits": (GOOD_LINE.replace('"hi"', "9" * 5000), "invalid_json", None),
    "tools_nested_400_deep": (GOOD_LINE[:-1] + ', "tools": [{"a": ' + "[" * 400 + "]" * 400 + "}]}", "invalid_json", None),
    "lone_surrogate": (GOOD_LINE.replace('"hi"', '"\\ud800"'), "bad_encoding", None),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CRASHERS))
def test_values_python_cannot_hold_are_problems_on_their_line(cli, project_dir: Path, name: str) -> None:
    line, code, field = CRASHERS[name]
    path = project_dir / f"{name}.jsonl"
    path.write_text("\n".join([GOOD_LINE, line, GOOD_LINE]) + "\n", encoding="utf-8")
    result = cli("data", "check", str(path), "--no-register", "--json")
    assert result.exit_code == 2, (name, result.stdout[-500:], result.stderr[-500:])
    assert "Traceback" not in result.stdout + result.stderr
    problems = json.loads(result.stdout)["error"]["problems"]
    assert [(p["line"], p["code"], p["field"]) for p in problems] == [(2, code, field)]


@pytest.mark.parametrize("container", ["json", "csv"])
def test_deep_nesting_and_long_integers_in_json_arrays_and_csv_cells(tmp_path: Path, container: str) -> None:
    deep, long_number = "[" * 5000 + "]" * 5000, "[" + "9" * 5000 + "]"
    if container == "json":
        path = tmp_path / "data.json"
        path.write_text(f"[\n{GOOD_LINE},\n{deep}\n]\n", encoding="utf-8")
        expected = {(3, "invalid_json")}
    else:
        path = tmp_path / "data.csv"
        path.write_text(f'messages\n"{deep}"\n"{long_number}"\n', encoding="utf-8")
        expected = {(2, "missing_messages_list"), (3, "missing_messages_list")}  # the cell stays text
    with pytest.raises(DataInvalid) as caught:
        load_records([path])
    assert {(p.line, p.code) for p in caught.value.problems} == expected


def test_convert_to_parquet_refuses_rows_of_mixed_types_and_writes_nothing(cli, project_dir: Path) -> None:
    """Tool definitions of different shapes cannot share a Parquet column: once an internal error."""
    rows = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
         "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]},
        {"messages": [{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}],
         "tools": [{"type": "function", "function": {"name": "g", "parameters": [1, 2]}}]},
    ]  # fmt: skip
    source = project_dir / "tools.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = cli("data", "convert", str(source), "--to", "openai-chat", "-o", "out/tools.parquet", "--json")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert json.loads(result.stdout)["error"]["code"] == "unwritable_output"
    assert not (project_dir / "out").exists()


def test_parquet_values_json_lacks_are_read_as_json_and_written_back(cli, project_dir: Path) -> None:
    """Timestamps, decimals, binary text and maps in a Parquet file: `data redact` to JSONL once ended
    with "datetime is not JSON serializable" and `data split` could not write the map column back."""
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    chats = [[{"role": "user", "content": f"mail a{i}@example.com"}, {"role": "assistant", "content": "ok"}]
             for i in range(3)]  # fmt: skip
    table = pa.table({
        "messages": chats,
        "created": [datetime.datetime(2024, 1, i + 1) for i in range(3)],
        "price": [decimal.Decimal("1.50")] * 3,
        "note": pa.array([b"caf\xc3\xa9"] * 3, type=pa.binary()),
        "extra": pa.array([[("k", i)] for i in range(3)], type=pa.map_(pa.string(), pa.int64())),
    })  # fmt: skip
    pq.write_table(table, project_dir / "in.parquet")
    redacted = cli("data", "redact", "in.parquet", "-o", "out.jsonl", "--json")
    assert redacted.exit_code == 0, redacted.stderr
    first = json.loads((project_dir / "out.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["created"] == "2024-01-01T00:00:00" and first["price"] == 1.5
    assert first["note"] == "café" and first["extra"] == {"k": 0}
    assert "[EMAIL]" in first["messages"][0]["content"]
    split = cli("data", "split", "in.parquet", "--holdout", "0.34", "--json")
    assert split.exit_code == 0, split.stderr
    assert (project_dir / "in.train.parquet").is_file() and (project_dir / "in.holdout.parquet").is_file()


def test_write_all_writes_every_output_or_none(tmp_path: Path) -> None:
    """A split's holdout that Parquet cannot hold must not leave the train file written alone."""
    from tuneloop.data.writers import write_all
    from tuneloop.errors import InvalidInput

    with pytest.raises(InvalidInput, match="Parquet"):
        write_all(
            [(tmp_path / "train.parquet", [{"x": 1}]), (tmp_path / "holdout.parquet", [{"x": 1}, {"x": "a"}])]
        )
    assert list(tmp_path.iterdir()) == []
    write_all([(tmp_path / "train.parquet", [{"x": 1}]), (tmp_path / "holdout.jsonl", [{"x": "a"}])])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holdout.jsonl", "train.parquet"]
