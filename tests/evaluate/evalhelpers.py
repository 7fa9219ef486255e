"""Data shared by the evaluation tests: a tiny customer-support holdout and suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUPPORT_ROWS = [
    ("My card was charged twice", "billing", "high"),
    ("How do I reset my password?", "account", "medium"),
    ("Where is my parcel?", "shipping", "low"),
    ("I want a refund for order 12", "billing", "medium"),
    ("The app crashes when I log in", "technical", "high"),
    ("Can I change my delivery address?", "shipping", "low"),
    ("Please close my account", "account", "low"),
    ("The invoice shows the wrong VAT", "billing", "medium"),
]


def answer(category: str, priority: str, reply: str = "We are on it.") -> str:
    return json.dumps({"category": category, "priority": priority, "reply": reply})


def write_holdout(path: Path) -> list[dict]:
    rows = [
        {
            "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": answer(c, p)}],
            "category": c,
        }
        for q, c, p in SUPPORT_ROWS
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


SUITE_YAML = """\
name: support
description: test suite
items: {file: holdout.jsonl}
generation: {max_new_tokens: 8, batch_size: 4}
metrics:
  - json_valid
  - {name: json_field_accuracy, fields: [category, priority]}
  - {name: rouge_l, field: reply}
primary_metric: category_accuracy
gates:
  - {metric: category_accuracy, rule: better_than, baseline: foundation}
"""


def register_version(project: Any, artifact_dir: Path, base_dir: Path) -> Any:
    """Register the next ``proj:N`` (full weights from ``artifact_dir``, a local base)."""
    from tuneloop.registry import register_model_version

    return register_model_version(
        project,
        name="proj",
        kind="full",
        artifact_dir=artifact_dir,
        base_reference=str(base_dir),
        base_weights_sha256="0" * 64,
    )


def register_two_versions(project: Any, artifact_dir: Path, base_dir: Path) -> None:
    """Register ``proj:1`` and ``proj:2`` (the same weights; scripted answers tell them apart)."""
    for _ in range(2):
        register_version(project, artifact_dir, base_dir)
