"""Apply a suite's metrics to one model's answers: a :class:`ScoreTable` of named columns per item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuneloop.evaluate.metrics.base import (
    MetricOptions,
    MetricOutput,
    MetricValue,
    ScoringContext,
    ScoringInput,
    get_metric,
    outputs_of,
)


@dataclass
class ScoreTable:
    """Scores of one model: ``values[column][i]`` is item ``i``'s value (None: metric not applied)."""

    columns: dict[str, MetricOutput] = field(default_factory=dict)
    values: dict[str, list[MetricValue | None]] = field(default_factory=dict)

    def scores(self, column: str) -> list[float | None]:
        """Per-item scores; None for items not scored (not applicable or failed)."""
        return [v.score if v is not None else None for v in self.values.get(column, [])]

    def is_binary(self, column: str) -> bool:
        present = [v for v in self.values.get(column, []) if v is not None and v.score is not None]
        return bool(present) and all(v.binary for v in present)

    def applicable(self, column: str) -> int:
        return sum(v is not None for v in self.values.get(column, []))

    def failures(self, column: str) -> int:
        return sum(v is not None and v.score is None for v in self.values.get(column, []))

    def mean(self, column: str) -> float | None:
        present = [s for s in self.scores(column) if s is not None]
        return sum(present) / len(present) if present else None

    def summary(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "mean": self.mean(name),
                "n": self.applicable(name) - self.failures(name),
                "failures": self.failures(name),
                "binary": self.is_binary(name),
                "metric": info.metric,
                "group": info.group,
                "higher_is_better": info.higher_is_better,
            }
            for name, info in self.columns.items()
        }


def applies(options: MetricOptions, inp: ScoringInput, category_field: str = "category") -> bool:
    """Whether a metric restricted to some categories scores this item."""
    if options.categories is None:
        return True
    category = inp.item.tags.get(category_field) if inp.item is not None else None
    return category in options.categories


def score_outputs(
    inputs: list[ScoringInput],
    metrics: list[MetricOptions],
    context: ScoringContext,
    *,
    category_field: str = "category",
) -> ScoreTable:
    """Score every input with every (non-pairwise) metric."""
    table = ScoreTable()
    for options in metrics:
        definition = get_metric(options.name)
        if definition.score is None:
            continue
        main = options.output or definition.name
        for output in outputs_of(options):
            table.columns[output.name] = output
            table.values[output.name] = [None] * len(inputs)
        indices = [i for i, inp in enumerate(inputs) if applies(options, inp, category_field)]
        if not indices:
            continue
        rows = definition.score([inputs[i] for i in indices], options, context)
        for index, row in zip(indices, rows, strict=True):
            for key, value in row.items():
                name = main if key == definition.name else key
                if name in table.values:
                    table.values[name][index] = value
    return table
