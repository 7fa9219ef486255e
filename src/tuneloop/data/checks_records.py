"""The checks on single records: conversations without a user turn, answers that loop.

Both name every record they concern (file and line): one bad record is fixed by editing that line,
and corpus-wide figures must not be the only place it shows (see ``diversity``, which leaves the
records found here out of its sample).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneloop.data.findings import where
from tuneloop.data.repetition import trained_texts
from tuneloop.data.text import preview
from tuneloop.findings import MAX_ITEMS

if TYPE_CHECKING:
    from tuneloop.data.check import CheckContext


def turns(ctx: CheckContext) -> None:
    """Conversations with no user message: the model learns to answer nobody (OpenAI's checker counts them)."""
    missing = [
        r for r in ctx.records if r.kind != "text" and not any(m.role == "user" for m in r.prompt_messages())
    ]
    ctx.report["turns"] = {"no_user_turn": len(missing)}
    if missing:
        ctx.add("turns", "no_user_turn", "warning",
                f"{len(missing)} conversations have no user message: the assistant answers no request",
                count=len(missing), items=[where(r) for r in missing[:MAX_ITEMS]])  # fmt: skip


def repetition(ctx: CheckContext) -> None:
    """Answers that repeat one phrase over most of their length ("Eat a banana!" x 2,000)."""
    limits = ctx.settings.diversity
    found = ctx.repetitive
    ctx.report["repetition"] = {
        "ngram": limits.repetition_ngram,
        "max_repeated_share": limits.max_repeated_share,
        "records": len(found),
        "items": [
            {**where(ctx.records[i]), "repeated_share": round(share, 3), "words": length,
             "text": preview(next(iter(trained_texts(ctx.records[i])), ""), 60)}
            for i, (share, length) in list(found.items())[:MAX_ITEMS]
        ],
    }  # fmt: skip
    if found:
        worst = max(share for share, _ in found.values())
        ctx.add("repetition", "repetitive_answer", "warning",
                f"{len(found)} answers repeat one phrase over most of their length (up to {worst:.0%} of the words "
                f"in repeated {limits.repetition_ngram}-grams); the model would learn to loop",
                count=len(found), items=ctx.report["repetition"]["items"])  # fmt: skip
