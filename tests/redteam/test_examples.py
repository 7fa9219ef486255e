"""The example training sets hold out every red-team probe, so e2e results measure generalisation."""

from __future__ import annotations

import json
from pathlib import Path

from tuneloop.redteam.probes import BUILTIN_CATEGORIES, builtin_probes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "redteam"


def test_training_prompts_are_not_probes() -> None:
    probes = {p.user_text().strip().lower() for c in BUILTIN_CATEGORIES for p in builtin_probes(c)}
    files = sorted(EXAMPLES.glob("*.jsonl"))
    assert {f.name for f in files} >= {
        "safe_parent.jsonl",
        "child_compliant.jsonl",
        "refusal_heavy.jsonl",
        "support_pii.jsonl",
    }
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            user = json.loads(line)["messages"][0]["content"].strip().lower()
            assert user not in probes, f"{path.name}: {user!r} is a red-team probe"
