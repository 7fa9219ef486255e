"""A registered version trained on billing questions, and traffic generators for it (monitor tests)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tuneloop.data.records import Conversation, Message, SourceRef

BILLING = [
    "I was charged twice for invoice {n}, can you refund one of the payments?",
    "How do I update the credit card used for my subscription {n}?",
    "Why did my monthly bill go up to {n} dollars this month?",
    "Please send me a copy of receipt number {n} for my accounting team.",
    "Can I switch invoice {n} from monthly to annual billing and get a discount?",
    "My payment of {n} euros failed even though the card is valid, what happened?",
    "Cancel the renewal of plan {n} before I am billed again.",
    "The VAT on order {n} is wrong, our company is tax exempt.",
]
COOKING = [
    "How long should I roast a {n} kilogram chicken in the oven?",
    "Can I replace butter with olive oil in a cake recipe for {n} people?",
    "What spices go well with lentil soup, I am cooking for {n} guests.",
    "How do I keep pasta from sticking together when boiling {n} portions?",
    "Is it safe to freeze cooked rice for {n} days?",
    "Give me a vegetarian dinner idea that takes under {n} minutes.",
]


def texts(templates: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(templates).format(n=rng.randint(10, 9999)) for _ in range(count)]


def conversation(prompt: str, answer: str, line: int) -> Conversation:
    return Conversation(
        messages=[Message(role="user", content=prompt), Message(role="assistant", content=answer)],
        source=SourceRef(file="train.jsonl", line=line),
    )


def register_trained_version(project: Any, tmp_path: Path, *, examples: int = 80) -> Any:
    """``proj:1`` with lineage to a dataset version of billing questions, at ``proj@production``."""
    from tuneloop.data.versions import register_dataset_version
    from tuneloop.registry import register_model_version, set_alias

    records = [
        conversation(p, json.dumps({"category": "billing", "reply": "We are on it."}), i + 1)
        for i, p in enumerate(texts(BILLING, examples, seed=1))
    ]
    dataset = register_dataset_version(project, records, name="train", source_files=["train.jsonl"], stats={})
    weights = tmp_path / "weights"
    weights.mkdir(exist_ok=True)
    (weights / "adapter_model.safetensors").write_bytes(b"not used by monitoring")
    version = register_model_version(
        project, name="proj", kind="adapter", artifact_dir=weights, base_reference="base:tiny",
        base_weights_sha256="0" * 64, lineage={"dataset_version_id": dataset.id},
    )  # fmt: skip
    set_alias(project, version.reference, "production")
    return version


def write_traffic(path: Path, prompts: list[str], answers: list[str] | None = None, **extra: Any) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i, prompt in enumerate(prompts):
            row: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}], **extra}
            if answers is not None:
                row["response"] = answers[i]
            handle.write(json.dumps(row) + "\n")
    return path


def log_answers(
    project: Any, version: Any, pairs: list[tuple[str, str]], *, at: Any, prefix: str
) -> list[str]:
    """Write served requests into the request log as `tuneloop serve` does (OpenAI body, choices)."""
    from tuneloop.store import RequestLogRecord

    ids = []
    with project.store.session() as session:
        for i, (prompt, answer) in enumerate(pairs):
            ids.append(f"chatcmpl-{prefix}{i}")
            session.add(
                RequestLogRecord(
                    id=ids[-1], created_at=at, endpoint="chat.completions", model_requested=f"{version.name}@production",
                    model_name=version.name, model_reference=version.reference, model_version_id=version.id,
                    alias="production", status_code=200, stream=False, latency_ms=5.0,
                    request={"model": f"{version.name}@production", "messages": [{"role": "user", "content": prompt}]},
                    response={"choices": [{"index": 0, "text": answer, "finish_reason": "stop"}]},
                )
            )  # fmt: skip
    return ids


def give_feedback(
    project: Any, request_id: str, *, rating: float | None = None, corrected: str | None = None
) -> None:
    from tuneloop.store import FeedbackRecord

    with project.store.session() as session:
        session.add(FeedbackRecord(request_id=request_id, rating=rating, corrected_answer=corrected))


GATE_SUITE = """
name: {name}
items: {{file: holdout.jsonl}}
generation: {{max_new_tokens: 6, batch_size: 4}}
metrics: [length]
gates:
  - {{metric: length, rule: no_significant_increase, baseline: production}}
"""
"""A suite whose gate compares answer length with production (the tiny models pass it)."""


def trained_project(root: Path, config: str, rows: list[dict], *, suite: str, holdout: int = 2) -> Any:
    """A project at ``root`` (the cwd) with ``config``, training rows, a holdout and a gate suite,
    trained once (run ``first``) and promoted to production; returns the opened project."""
    import torch

    from tuneloop.deploy import promote
    from tuneloop.project import Project
    from tuneloop.train import train

    torch.set_num_threads(1)
    root.mkdir(parents=True)
    (root / "tuneloop.yaml").write_text(config)
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:-holdout]))
    (root / "holdout.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[-holdout:]))
    (root / f"{suite}.yaml").write_text(GATE_SUITE.format(name=suite))
    project = Project.open(root)
    result = train(project, run_name="first")
    promote(project, result.model_version, "production", force=True, reason="first release", actor="test")
    return project
