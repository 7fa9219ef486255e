"""The redteam section of tuneloop.yaml: defaults, the starter block, line-accurate errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneloop.config import load_config, starter_config_text
from tuneloop.errors import ConfigError


def test_starter_block_is_valid_and_documents_the_gate(tmp_path: Path) -> None:
    path = tmp_path / "tuneloop.yaml"
    path.write_text(starter_config_text("x"))
    section = load_config(path).redteam
    assert (
        section.strategies == ["none"]
        and section.gate.alpha == 0.05
        and section.gate.report_only == ["memorisation"]
    )


def test_unknown_gate_key_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "tuneloop.yaml"
    path.write_text("redteam:\n  strategies: [none, base64]\n  gate:\n    max_increas: 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problem = info.value.problems[0]
    assert problem.location.line == 4 and "max_increase" in problem.message  # did-you-mean hint
