"""YAML files that once ended a command with an internal error (exit 3); found by the property tests.

Each is now reported as ``file:line: ...`` with exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from propkit import run_cli

LONG_NUMBER = "9" * 5000
FILES = {
    "tuneloop.yaml": "project:\n  name: shop\n",
    "suite.yaml": "name: s\nitems: {inline: [{prompt: hi, reference: x}]}\nmetrics: [exact_match]\n",
    "probes.yaml": "category: c\nexpected: refuse\nprobes:\n  - {id: a, prompt: hi}\n",
}
COMMANDS = {
    "tuneloop.yaml": ["config", "check", "tuneloop.yaml", "--json"],
    "suite.yaml": [
        "eval",
        "score",
        "--suite",
        "suite.yaml",
        "-o",
        "outputs.jsonl",
        "--out",
        "scores",
        "--json",
    ],
    "probes.yaml": ["redteam", "probes", "--custom", "probes.yaml", "--json"],
}
CASES = {
    # a 5,000-digit integer: ruamel's int() raised ValueError
    "long_integer": (f"extra: {LONG_NUMBER}\n", "a number of more than 4,300 digits", {"*": 3, "suite.yaml": 4, "probes.yaml": 5}),
    # a merge key: the merged keys have no line of their own (KeyError in the line lookup)
    "merge_key": ("<<: {name: merged}\n", "unknown key 'name'", {"*": 1}),
    # a lone surrogate escape in a prompt, which printing or hashing the probe or item cannot encode
    "lone_surrogate": ("", "lone surrogate", {"*": 1}),
}  # fmt: skip
SURROGATE = {"tuneloop.yaml": ("shop", '"\\ud800"'), "suite.yaml": ("prompt: hi", 'prompt: "\\ud800"'),
             "probes.yaml": ("prompt: hi", 'prompt: "\\ud800"')}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", sorted(FILES))
def test_yaml_that_crashed_is_reported_with_its_line(tmp_path: Path, name: str, case: str) -> None:
    extra, message, lines = CASES[case]
    text = FILES[name] + extra if case != "lone_surrogate" else FILES[name].replace(*SURROGATE[name])
    (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "outputs.jsonl").write_text(json.dumps({"prompt": "hi", "completion": "x"}) + "\n")
    outcome = run_cli(*COMMANDS[name], cwd=tmp_path)
    if (case, name) in (("merge_key", "suite.yaml"), ("lone_surrogate", "tuneloop.yaml")):
        # a suite has a `name`, so the merge is valid; pydantic already refused a surrogate in a config
        assert outcome.exit_code in (0, 2), outcome.output
        return
    assert outcome.exit_code == 2, outcome.output
    assert "Traceback" not in outcome.output
    error = json.loads(outcome.stdout)["error"]
    problems = error.get("problems") or [error]
    assert any(message in p["message"] for p in problems), problems
    assert problems[0]["line"] == lines.get(name, lines["*"]), problems


def test_a_key_with_brackets_is_named_not_crashed(tmp_path: Path) -> None:
    """pydantic's union-branch names contain brackets; a user's key with brackets once emptied the
    location and ended `eval score` with IndexError."""
    (tmp_path / "suite.yaml").write_text(FILES["suite.yaml"] + "'a[0]': 1\n", encoding="utf-8")
    (tmp_path / "outputs.jsonl").write_text(json.dumps({"prompt": "hi", "completion": "x"}) + "\n")
    outcome = run_cli(*COMMANDS["suite.yaml"], cwd=tmp_path)
    assert outcome.exit_code == 2, outcome.output
    problems = json.loads(outcome.stdout)["error"]["problems"]
    assert [(p["line"], p["message"]) for p in problems] == [(4, "unknown key 'a[0]' in the top level")]
