"""The checks on classification data (answers that are labels), run instead of answer diversity.

Label balance, labels with too few examples and holdout labels that training never shows; the
conflicts check compares labels of near-identical inputs exactly (:mod:`tuneloop.data.conflicts`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneloop.data.checks_core import listed
from tuneloop.data.findings import where
from tuneloop.data.labels import label_of, label_stats
from tuneloop.data.text import response_text
from tuneloop.findings import MAX_ITEMS

if TYPE_CHECKING:
    from tuneloop.data.check import CheckContext


def labels(ctx: CheckContext) -> None:
    if not ctx.answers_are_labels:
        return
    limits = ctx.settings.labels
    answers = [response_text(r) if r.kind != "text" else "" for r in ctx.records]
    stats = label_stats(answers)
    if not stats.counts:
        return
    section = stats.summary()
    ctx.report["labels"] = section
    ctx.charts.setdefault("categories", stats.counts)
    if stats.imbalance_ratio > limits.max_imbalance_ratio:
        (top, most), (bottom, least) = stats.commonest, stats.rarest
        ctx.add("labels", "label_imbalance", "warning",
                f"labels are imbalanced: '{top}' has {most} examples ({most / stats.total:.0%}), '{bottom}' {least} "
                f"(ratio {stats.imbalance_ratio:.1f} > {limits.max_imbalance_ratio})")  # fmt: skip
    rare = stats.rare(limits.min_examples)
    section["rare"] = rare
    if rare:
        records = [r for r, a in zip(ctx.records, answers, strict=True) if a and label_of(a) in rare]
        ctx.add("labels", "rare_labels", "warning",
                f"{len(rare)} labels have fewer than {limits.min_examples} examples: {listed(dict(sorted(rare.items(), key=lambda kv: kv[1])))}",
                count=len(records), items=[{**where(r), "label": label_of(response_text(r))} for r in records[:MAX_ITEMS]])  # fmt: skip
    if ctx.holdout is not None:
        _holdout_labels(ctx, set(stats.counts), section)


def _holdout_labels(ctx: CheckContext, known: set[str], section: dict[str, object]) -> None:
    """Holdout labels training never shows: the model cannot learn them, evaluation will count them wrong."""
    held = [(r, label_of(a)) for r in ctx.holdout.records if (a := response_text(r))] if ctx.holdout else []
    unseen: dict[str, int] = {}
    for _, label in held:
        if label not in known:
            unseen[label] = unseen.get(label, 0) + 1
    section["holdout_labels"] = len({label for _, label in held})
    section["holdout_unseen"] = unseen
    if unseen:
        examples = sum(unseen.values())
        ctx.add("labels", "holdout_labels_unseen", "warning",
                f"{len(unseen)} holdout labels never occur in training ({examples} holdout examples): {listed(unseen)}",
                count=examples, items=[{**where(r), "label": label} for r, label in held if label in unseen][:MAX_ITEMS])  # fmt: skip
