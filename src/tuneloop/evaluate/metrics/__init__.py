"""The metric registry and the built-in metrics (importing this package registers them).

``tuneloop eval metrics`` lists them with their options. Add one with
:func:`~tuneloop.evaluate.metrics.base.register_metric`.
"""

from tuneloop.evaluate.metrics import checks, judged, semantic, structured, text
from tuneloop.evaluate.metrics.base import (
    METRICS,
    MetricDefinition,
    MetricOptions,
    MetricOutput,
    MetricValue,
    SamplingRequest,
    ScoringContext,
    ScoringInput,
    describe_options,
    get_metric,
    outputs_of,
    parse_metric_options,
    per_item,
    register_metric,
)
from tuneloop.evaluate.metrics.scoring import ScoreTable, score_outputs

__all__ = [
    "METRICS",
    "MetricDefinition",
    "MetricOptions",
    "MetricOutput",
    "MetricValue",
    "SamplingRequest",
    "ScoreTable",
    "ScoringContext",
    "ScoringInput",
    "checks",
    "describe_options",
    "get_metric",
    "judged",
    "outputs_of",
    "parse_metric_options",
    "per_item",
    "register_metric",
    "score_outputs",
    "semantic",
    "structured",
    "text",
]
