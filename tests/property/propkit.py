"""Strategies and assertions shared by the property tests of user-file readers.

The idea of every test: start from a valid document of one kind (a data record, a suite, a probe
file, a ``tuneloop.yaml``), put any JSON value in any field position (or remove, rename or add a
field), run the real command, and require a clean outcome: exit 0, 1 or 2 (never 3, an internal
error), no traceback, and for exit 2 an error that names the file, the line and the field.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from typer.testing import CliRunner

# Keys the readers look for, so mutations reach the code behind them and not only "unknown key".
KNOWN_KEYS = [
    "role", "content", "messages", "conversations", "from", "value", "type", "text", "function", "name",
    "arguments", "tool_calls", "tool_call_id", "function_call", "weight", "tools", "functions", "system",
    "prompt", "completion", "chosen", "rejected", "input", "output", "instruction", "preferred_output",
    "non_preferred_output", "category", "intent", "metadata", "tags", "reference", "id", "expected",
    "probes", "items", "file", "inline", "metrics", "gates", "metric", "rule", "baseline", "k",
]  # fmt: skip
# Values that mean something to the readers (roles, formats) or break naive code (a lone surrogate
# cannot be encoded as UTF-8; huge numbers overflow fixed-width types; NaN is what json.loads reads).
SPECIAL_TEXT = ["", " ", "\n", "[/]", "[bold]", "user", "assistant", "system", "tool", "human", "gpt", "function", "text",
                "image_url", "{}", "[]", "{\"a\": 1}", "\ud800", "\x00", "é" * 3, "🙂", "a" * 300]  # fmt: skip
SPECIAL_NUMBERS = [0, 1, -1, 2, 0.5, 1.0, 2**31, 2**63, -(2**63) - 1, 2**64, 10**400, float("nan"),
                   float("inf"), float("-inf"), -0.0, 1e308]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(SPECIAL_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(SPECIAL_TEXT),
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
"""Any JSON value: nested lists and objects, numbers (huge, NaN), booleans, null, unicode, empty text."""

Path_ = tuple[str | int, ...]


def positions(doc: Any, here: Path_ = ()) -> Iterator[Path_]:
    """Every field position of ``doc`` (object keys and list indexes, at every depth)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*here, key)
            yield from positions(value, (*here, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield (*here, index)
            yield from positions(value, (*here, index))


def containers(doc: Any, here: Path_ = ()) -> Iterator[Path_]:
    """Paths of every object and list in ``doc`` (the root included)."""
    if isinstance(doc, dict | list):
        yield here
        items = doc.items() if isinstance(doc, dict) else enumerate(doc)
        for key, value in items:
            yield from containers(value, (*here, key))


def _at(doc: Any, path: Path_) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def mutation(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with one change: a field replaced by any JSON value, removed, renamed, added or repeated."""
    doc = copy.deepcopy(doc)
    op = draw(st.sampled_from(["replace", "replace", "replace", "remove", "rename", "add", "repeat"]))
    if op in ("replace", "remove", "rename") and any(True for _ in positions(doc)):
        path = draw(st.sampled_from(list(positions(doc))))
        parent, key = _at(doc, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(json_values)
        elif op == "remove":
            del parent[key]
        elif isinstance(parent, dict):
            value = parent.pop(key)
            parent[draw(keys)] = value
        else:
            parent[key] = {draw(keys): parent[key]}
        return doc
    target = _at(doc, draw(st.sampled_from(list(containers(doc)))))
    if isinstance(target, dict):
        if op == "add" or not target:
            target[draw(keys)] = draw(json_values)
        else:
            key = draw(st.sampled_from(sorted(target, key=str)))
            target[draw(keys)] = copy.deepcopy(target[key])
    elif op == "add" or not target:
        target.insert(draw(st.integers(0, len(target))), draw(json_values))
    else:
        index = draw(st.integers(0, len(target) - 1))
        target.insert(index, copy.deepcopy(target[index]))
    return doc


@st.composite
def mutations(draw: st.DrawFn, doc: Any, most: int = 3) -> Any:
    """One to ``most`` successive mutations of ``doc``."""
    for _ in range(draw(st.integers(1, most))):
        doc = draw(mutation(doc))
    return doc


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def payload(self) -> dict[str, Any]:
        """The ``--json`` document on stdout."""
        return json.loads(self.stdout)


@contextmanager
def working_dir(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_cli(*args: str | Path, cwd: Path) -> Outcome:
    """Run ``tuneloop ARGS`` in-process from ``cwd``, as a user would (errors caught by the CLI's guard)."""
    from tuneloop.cli import build_app

    with working_dir(cwd):
        result = CliRunner().invoke(build_app(), [str(a) for a in args], catch_exceptions=False)
    return Outcome(result.exit_code, result.stdout, result.stderr)


def assert_clean(outcome: Outcome, what: str) -> None:
    """Exit 0, 1 or 2 and no traceback; exit 3 means an unexpected exception reached the CLI's guard."""
    assert outcome.exit_code in (0, 1, 2), f"{what}: exit {outcome.exit_code}\n{outcome.output[-3000:]}"
    assert "Traceback" not in outcome.output, f"{what}: traceback\n{outcome.output[-3000:]}"
    assert "internal error" not in outcome.output, f"{what}: {outcome.output[-3000:]}"


ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+)?:?(?P<field>[^ ]*):? (?P<code>[a-z_]+) .+$")


def error_locations(outcome: Outcome) -> list[dict[str, Any]]:
    """The located problems of a failed ``--json`` command (one for a single error)."""
    error = outcome.payload()["error"]
    return list(error["problems"]) if "problems" in error else [error]


def unique_dir(root: Path, counter: list[int]) -> Path:
    """A fresh empty folder under ``root`` for one hypothesis example."""
    counter[0] += 1
    path = root / f"ex{counter[0]}"
    path.mkdir()
    return path


def json_text(value: Any) -> str:
    """JSON as a user's file may hold it (NaN and Infinity included: Python's json reads them); a lone
    surrogate, which UTF-8 cannot encode, is written as the ``\\ud800`` escape JSON allows."""
    text = json.dumps(value, ensure_ascii=False)
    return text if encodable(text) else json.dumps(value)


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
