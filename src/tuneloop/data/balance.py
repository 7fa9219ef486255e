"""Balance: how examples spread over a tag, and how many answers are refusals or boilerplate.

A model learns the answer distribution it is shown: 60% "I cannot help with that" in training makes a
refusing model even when production needs a few percent. Refusals are matched by common refusal
openings; boilerplate is the share of free-text answers identical to the most common one.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from tuneloop.data.records import Record
from tuneloop.data.text import normalise_text, preview

_CANT = r"(?:can't|cannot|can not|won't|will not|am unable to|are unable to|am not able to|'m unable to|'m not able to)"
REFUSAL = re.compile(
    rf"^\W*(?:(?:i'm|i am|we're|we are) (?:sorry|afraid),? (?:but )?(?:i|we) {_CANT}"
    rf"|sorry,? (?:but )?(?:i|we) {_CANT}"
    rf"|(?:i|we) {_CANT} (?:help|assist|answer|provide|do|comply|share|discuss|give|support)"
    r"|as an ai\b|i must (?:decline|refuse)|unfortunately,? (?:i|we) (?:can't|cannot|am unable|are unable))",
    re.IGNORECASE,
)


def tag_field(records: list[Record], tag_fields: list[str]) -> str | None:
    """The first configured tag field that any record carries."""
    for name in tag_fields:
        if any(name in r.tags for r in records):
            return name
    return None


def tag_distribution(records: list[Record], name: str) -> dict[str, int]:
    counts = Counter(r.tags.get(name, "(none)") for r in records)
    return dict(counts.most_common())


def is_refusal(answer: str) -> bool:
    return bool(REFUSAL.match(answer.strip()))


def answer_shares(answers: list[str], label_like: bool) -> dict[str, Any]:
    """Refusal share, and (for free text) the most common answer and its share."""
    present = [a for a in answers if a]
    refusals = sum(1 for a in present if is_refusal(a))
    result: dict[str, Any] = {
        "refusal_share": refusals / len(present) if present else 0.0,
        "refusals": refusals,
    }
    if not label_like and present:
        answer, count = Counter(normalise_text(a) for a in present).most_common(1)[0]
        result.update(
            boilerplate_share=count / len(present),
            most_common_answer=preview(answer),
            most_common_count=count,
        )
    return result
