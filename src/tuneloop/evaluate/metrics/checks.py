"""``item_checks``: each item carries its own checks (IFEval-style verifiable instructions).

Hand-written suites (the built-in general-ability suite) give an item checks such as
``[{name: letter_case, case: upper}, {name: word_count, max: 5}]``; this metric passes an item when
all (or any) of its checks pass. Items without checks are not scored by it.
"""

from __future__ import annotations

from typing import Literal

from tuneloop.evaluate.metrics.base import (
    MetricDefinition,
    MetricOptions,
    MetricValue,
    ScoringContext,
    ScoringInput,
    get_metric,
    register_metric,
)


class ItemChecksOptions(MetricOptions):
    """Options of ``item_checks``."""

    require: Literal["all", "any"] = "all"
    """Pass when every check passes, or when one does."""


def _item_checks(
    inputs: list[ScoringInput], options: ItemChecksOptions, context: ScoringContext
) -> list[dict[str, MetricValue]]:
    results = []
    for inp in inputs:
        checks = list(inp.item.checks) if inp.item is not None else []
        if not checks:
            results.append({"item_checks": MetricValue.failed("this item has no checks", binary=True)})
            continue
        outcomes = []
        for check in checks:
            definition = get_metric(check.name)
            if definition.score is None:
                continue
            row = definition.score([inp], check, context)[0]
            value = row.get(definition.name) or next(iter(row.values()))
            outcomes.append((check.output or check.name, value))
        scored = [(name, v) for name, v in outcomes if v.score is not None]
        if not scored:
            results.append({"item_checks": MetricValue.failed("no check could be scored", binary=True)})
            continue
        passed = [v.score == 1.0 for _, v in scored]
        ok = all(passed) if options.require == "all" else any(passed)
        failed = [name for name, v in scored if v.score != 1.0]
        results.append({"item_checks": MetricValue.passed(ok, failed_checks=failed)})
    return results


register_metric(
    MetricDefinition(
        name="item_checks",
        score=_item_checks,
        options=ItemChecksOptions,
        description="the item's own checks pass (verifiable instructions in hand-written suites)",
        group="task",
    )
)
