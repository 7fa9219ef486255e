"""Property tests: commands that write files never leave a partial output when their input is bad.

`data convert`, `data split` and `data redact` read a file with one mutated row. Whatever the row
holds they exit 0, 1 or 2 without a traceback; when they fail, the folder holds exactly what it held
before (no output, no temp file); when they succeed, their outputs exist and no temp file is left.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from datadocs import FORMAT_ROWS, write_rows
from hypothesis import assume, given
from hypothesis import strategies as st
from propkit import assert_clean, mutations, run_cli, unique_dir

_COUNTER = [0]
OUTPUT_SUFFIXES = ["jsonl", "json", "csv", "parquet"]
TARGETS = {"conversation": "openai-chat", "preference": "trl-preference"}


def _prepared(prop_project: Path, format_name: str, data, container: str = "jsonl") -> tuple[Path, Path]:
    rows = list(FORMAT_ROWS[format_name])
    rows[1] = data.draw(mutations(rows[1]), label="mutated row")
    folder = unique_dir(prop_project, _COUNTER)
    path = folder / "in" / f"data.{container}"
    path.parent.mkdir()
    try:
        write_rows(path, rows)
    except ValueError:
        assume(False)
    return folder, path


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _assert_no_partial_write(outcome, folder: Path, before: set[str], outputs: list[Path], what: str) -> None:
    assert_clean(outcome, what)
    after = _files(folder)
    temps = [name for name in after if name.endswith(".tmp") or "/." in f"/{name}"]
    assert not temps, f"{what}: temp files left: {temps}"
    if outcome.exit_code != 0:
        assert after == before, f"{what}: exit {outcome.exit_code} but wrote {sorted(after - before)}"
    else:
        assert all(p.is_file() for p in outputs), f"{what}: exit 0 without {outputs}"


@pytest.mark.parametrize("format_name", ["openai-chat", "sharegpt", "trl-preference", "openai-preference"])
@given(data=st.data(), suffix=st.sampled_from(OUTPUT_SUFFIXES))
def test_convert_writes_all_or_nothing(prop_project: Path, format_name: str, suffix: str, data) -> None:
    folder, path = _prepared(prop_project, format_name, data)
    kind = "preference" if "preference" in format_name else "conversation"
    target = data.draw(st.sampled_from([TARGETS[kind], "openai-chat", "openai-preference"]), label="to")
    output = folder / "out" / f"converted.{suffix}"
    before = _files(folder)
    outcome = run_cli("data", "convert", path, "--to", target, "-o", output, "--json", cwd=prop_project)
    _assert_no_partial_write(
        outcome, folder, before, [output], f"data convert --to {target} -o {output.name}"
    )


@pytest.mark.parametrize("format_name", ["openai-chat", "alpaca"])
@given(data=st.data(), container=st.sampled_from(["jsonl", "csv"]))
def test_split_writes_all_or_nothing(prop_project: Path, format_name: str, container: str, data) -> None:
    folder, path = _prepared(prop_project, format_name, data, container)
    before = _files(folder)
    outputs = [path.with_name(f"data.train.{container}"), path.with_name(f"data.holdout.{container}")]
    stratify = data.draw(st.sampled_from([[], ["--stratify-by", "category"], ["--group-by", "intent"]]))
    outcome = run_cli("data", "split", path, "--holdout", "0.34", *stratify, "--json", cwd=prop_project)
    _assert_no_partial_write(outcome, folder, before, outputs, f"data split {path.name} {stratify}")


@pytest.mark.parametrize("format_name", ["openai-chat", "prompt-completion", "text"])
@given(data=st.data(), container=st.sampled_from(["jsonl", "json", "csv", "parquet"]))
def test_redact_writes_all_or_nothing(prop_project: Path, format_name: str, container: str, data) -> None:
    folder, path = _prepared(prop_project, format_name, data, container)
    output = folder / "out" / f"redacted.{container}"
    before = _files(folder)
    outcome = run_cli("data", "redact", path, "-o", output, "--json", cwd=prop_project)
    _assert_no_partial_write(outcome, folder, before, [output], f"data redact -o {output.name}")
