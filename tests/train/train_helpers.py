"""Data builders shared by the training tests (imported as ``train_helpers``)."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = [
    "invoice",
    "refund",
    "password",
    "login",
    "shipping",
    "parcel",
    "delay",
    "charge",
    "card",
    "account",
    "upgrade",
    "plan",
    "router",
    "firmware",
    "crash",
    "export",
    "report",
    "backup",
    "restore",
    "quota",
    "storage",
    "region",
    "latency",
    "outage",
    "token",
    "webhook",
    "billing",
    "address",
    "courier",
    "damaged",
    "missing",
    "tracking",
    "reset",
    "device",
    "screen",
    "battery",
    "license",
    "seat",
]
CATEGORIES = ("billing", "technical", "account", "shipping")


def _ticket(rng: random.Random, index: int) -> tuple[str, str]:
    category = CATEGORIES[index % len(CATEGORIES)]
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 18)))
    return f"Ticket {index}: {words}?", category


def conversations(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        prompt, category = _ticket(rng, index)
        answer = json.dumps({"category": category, "reply": f"We are on it ({index})."})
        rows.append(
            {
                "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                "category": category,
            }
        )
    return rows


def preferences(count: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        prompt, category = _ticket(rng, index)
        rows.append(
            {
                "prompt": [{"role": "user", "content": prompt}],
                "chosen": [{"role": "assistant", "content": json.dumps({"category": category})}],
                "rejected": [{"role": "assistant", "content": "I cannot help with that."}],
                "category": category,
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
