"""YAML documents for the property tests: valid starting points, writing them, and YAML-only oddities."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from propkit import encodable
from ruamel.yaml import YAML

# Snippets only YAML can express, appended to a mutated document as one more top-level line:
# aliases (one that contains itself), tags, dates, non-text keys, a second document, tabs.
YAML_ODDITIES = [
    "extra: &loop [*loop]",
    "extra: !!binary aGVsbG8=",
    "extra: !!python/object:os.system {}",
    "extra: !custom 1",
    "extra: 2024-01-01",
    "extra: 2024-01-01T10:00:00Z",
    "1: one",
    "null: nothing",
    "true: yes",
    "? [a, b]\n: complex key",
    "---\nsecond: document",
    "extra:\n\t- tab",
    "<<: {name: merged}",
    "extra: *undefined",
    "extra: 0x1F",
    "extra: .nan",
    "extra: 1e400",
    "extra: '\\ud800'",
    'extra: "\\ud800"',
    "extra: 9" + "9" * 5000,
]


def dump_yaml(doc: Any) -> str:
    """``doc`` as block-style YAML (NaN and infinities as YAML's .nan/.inf)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    return buffer.getvalue()


def write_yaml(path: Path, doc: Any, oddity: str | None) -> None:
    """Write ``doc`` (plus one YAML oddity line); ValueError when YAML cannot write the value."""
    try:
        text = dump_yaml(doc)
    except Exception as exc:  # ruamel's representer refuses some values (e.g. text it cannot encode)
        raise ValueError(str(exc)) from exc
    if oddity is not None:
        text = (text if isinstance(doc, dict) and doc else "") + oddity + "\n"
    if not encodable(text):
        raise ValueError("not UTF-8 encodable")
    path.write_text(text, encoding="utf-8")


oddities = st.one_of(st.none(), st.none(), st.sampled_from(YAML_ODDITIES))


def finite(value: Any) -> bool:
    return not (isinstance(value, float) and math.isnan(value))
