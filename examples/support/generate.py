"""Generate the Acme Cloud support dataset: train.jsonl, holdout.jsonl and production_sample.jsonl.

Run: ``.venv/bin/python examples/support/generate.py`` (deterministic: the same files every time).

The task: an assistant reads a customer ticket and answers with exactly one JSON object
``{"category": ..., "priority": ..., "reply": ...}`` where category is one of billing, technical,
account, shipping, security, other and priority one of low, medium, high. The format is strict so an
evaluation can score JSON validity and field accuracy automatically.

Each ticket is composed from independent parts (opener, issue statement with product, amounts, dates
and error codes, a detail sentence, an urgency cue, a closing), each with many wordings, so examples
differ in more than a slot value. The system prompt is not in the data: it is ``project.system_prompt``
in tuneloop.yaml, which training adds to conversations without one and the baseline uses too.
Priority follows the urgency cue in the ticket (an outage, a security incident, a blocked payment are
high; questions and requests without a deadline are low), so it is learnable from the text.
After generation, duplicates inside train and holdout items that duplicate a training item (exact or
near, prompt or whole example) are dropped with tuneloop's own detectors.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ticket_parts import (  # noqa: E402
    ACKNOWLEDGEMENTS,
    CLOSINGS,
    DETAILS,
    FOLLOW_UPS,
    ISSUES,
    OPENERS,
    OUT_OF_SCOPE,
    URGENCY,
)

PRODUCTS = [
    "Acme Compute",
    "Acme Storage",
    "Acme Queue",
    "Acme Insights",
    "Acme Functions",
    "Acme Postgres",
    "Acme CDN",
]
PLANS = ["Starter", "Team", "Business", "Enterprise"]
REGIONS = ["eu-west-1", "us-east-2", "ap-south-1", "eu-central-1", "us-west-1", "sa-east-1"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
ERRORS = [
    "502 Bad Gateway",
    "ERR_TIMEOUT",
    "429 Too Many Requests",
    "500 Internal Server Error",
    "ECONNRESET",
    "403 Forbidden",
    "ERR_QUOTA_EXCEEDED",
]
HARDWARE = ["Acme Edge Box", "Acme Edge Box Mini", "Acme Sensor Kit", "Acme Rack Gateway"]
CARRIERS = ["DHL", "UPS", "FedEx", "the national post"]


def slots(rng: random.Random) -> dict[str, str]:
    return {
        "product": rng.choice(PRODUCTS),
        "plan": rng.choice(PLANS),
        "region": rng.choice(REGIONS),
        "month": rng.choice(MONTHS),
        "day": str(rng.randint(2, 28)),
        "amount": f"${rng.choice([19, 29, 49, 79, 99, 149, 249, 499, 1290])}.{rng.choice(['00', '50', '99'])}",
        "error": rng.choice(ERRORS),
        "count": str(rng.choice([2, 3, 4, 5, 12, 40, 150])),
        "minutes": str(rng.choice([10, 20, 45, 90])),
        "hardware": rng.choice(HARDWARE),
        "carrier": rng.choice(CARRIERS),
        "order": f"AC-{rng.randint(100000, 999999)}",
        "account": f"acct_{rng.randint(10000, 99999)}",
        "percent": str(rng.choice([10, 15, 20, 25])),
    }


def ticket(rng: random.Random) -> tuple[str, dict[str, str]]:
    """One ticket text and its answer object."""
    category = rng.choice(list(ISSUES))
    issue = rng.choice(ISSUES[category])
    values = slots(rng)
    level = issue["priority"] if issue["priority"] != "any" else rng.choice(["low", "medium", "high"])
    parts = [rng.choice(OPENERS), rng.choice(issue["say"]), rng.choice(DETAILS[category])]
    cue = rng.choice(URGENCY[level])
    if cue:
        parts.insert(rng.choice([2, 3]), cue)
    parts.append(rng.choice(CLOSINGS))
    text = " ".join(p for p in parts if p).format(**values)
    reply_parts = [rng.choice(ACKNOWLEDGEMENTS[level]), rng.choice(issue["reply"]), rng.choice(FOLLOW_UPS)]
    reply = " ".join(p for p in reply_parts if p).format(**values)
    return text[0].upper() + text[1:], {"category": category, "priority": level, "reply": reply}


def out_of_scope(rng: random.Random) -> tuple[str, dict[str, str]]:
    question, reply = rng.choice(OUT_OF_SCOPE)
    return rng.choice(OPENERS).format(**slots(rng)) + " " + question, {
        "category": "other",
        "priority": "low",
        "reply": reply,
    }


def example(rng: random.Random) -> dict[str, object]:
    text, answer = out_of_scope(rng) if rng.random() < 0.06 else ticket(rng)
    return {
        "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": json.dumps(answer)}],
        "category": answer["category"],
        "priority": answer["priority"],
    }


def unique(rows: list[dict[str, object]], limit: int) -> list[dict[str, object]]:
    """Drop exact and near duplicates (tuneloop's detectors), keep the first ``limit``."""
    from tuneloop.data.dedup import find_duplicates
    from tuneloop.data.formats import normalise_row
    from tuneloop.data.messages import RowContext
    from tuneloop.data.problems import ProblemLog
    from tuneloop.data.readers import RawRow

    log = ProblemLog()
    records = [
        normalise_row(RawRow("gen", i + 1, r), "openai-chat", ["category"], RowContext(log, "gen", i + 1))
        for i, r in enumerate(rows)
    ]
    removed = set(find_duplicates(records).removable)  # type: ignore[arg-type]
    return [r for i, r in enumerate(rows) if i not in removed][:limit]


def to_records(rows: list[dict[str, object]]):
    from tuneloop.data.formats import normalise_row
    from tuneloop.data.messages import RowContext
    from tuneloop.data.problems import ProblemLog
    from tuneloop.data.readers import RawRow

    log = ProblemLog()
    return [
        normalise_row(RawRow("gen", i + 1, r), "openai-chat", ["category"], RowContext(log, "gen", i + 1))
        for i, r in enumerate(rows)
    ]


def main() -> None:
    from tuneloop.config.data import ContaminationSettings, DedupSettings
    from tuneloop.data.contamination import holdout_contamination

    train = unique([example(random.Random(f"train-{i}")) for i in range(420)], 360)
    holdout_pool = unique([example(random.Random(f"holdout-{i}")) for i in range(140)], 140)
    found, _ = holdout_contamination(
        to_records(train), to_records(holdout_pool), ContaminationSettings(), DedupSettings()
    )  # type: ignore[arg-type]
    crossing = {c.holdout_index for c in found}
    holdout = [r for i, r in enumerate(holdout_pool) if i not in crossing][:80]
    production = []
    for i in range(100):
        rng = random.Random(f"production-{i}")
        text = example(rng)["messages"][0]["content"]  # type: ignore[index]
        production.append({"messages": [{"role": "user", "content": text}]})
    for name, rows in (
        ("train.jsonl", train),
        ("holdout.jsonl", holdout),
        ("production_sample.jsonl", production),
    ):
        (HERE / name).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        print(f"{name}: {len(rows)} examples")


if __name__ == "__main__":
    main()
