"""The metric registry: a dict from name to a small definition, the extension point of evaluation.

A metric scores a list of :class:`ScoringInput` (prediction, reference, item, generation) and returns,
per input, a dict of named :class:`MetricValue` s: most metrics produce one value under their own name,
some produce several (``json_field_accuracy`` with ``fields: [category, priority]`` also gives
``category_accuracy`` and ``priority_accuracy``). Metrics take a whole list rather than one item so
embedding models and judges can batch; :func:`per_item` lifts a one-item function.

A value whose ``score`` is None could not be computed (a judge that never answered parseably): it is
counted and reported as a failure and left out of the statistics, never silently scored.

Register a metric with :func:`register_metric`; suites then name it in their ``metrics`` list.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from tuneloop.config.strict_model import StrictModel
from tuneloop.errors import InvalidInput

if TYPE_CHECKING:
    from tuneloop.config.evaluate import JudgeSettings
    from tuneloop.evaluate.cache import GenerationCache
    from tuneloop.evaluate.generation import Generation
    from tuneloop.evaluate.items import EvalItem
    from tuneloop.evaluate.judges import JudgeBackend
    from tuneloop.project import Project

Group = Literal["task", "format", "quality", "safety", "consistency", "efficiency", "judge", "custom"]


@dataclass(frozen=True)
class MetricValue:
    """One score of one item. ``binary`` scores are 0 or 1 (right/wrong) and get McNemar's test."""

    score: float | None
    binary: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    """Why no score could be computed (then ``score`` is None and the item counts as a failure)."""

    @classmethod
    def passed(cls, ok: bool, **details: Any) -> MetricValue:
        return cls(1.0 if ok else 0.0, binary=True, details=details)

    @classmethod
    def failed(cls, error: str, binary: bool = False, **details: Any) -> MetricValue:
        return cls(None, binary=binary, details=details, error=error)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"score": self.score, "binary": self.binary}
        if self.details:
            data["details"] = self.details
        if self.error:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class ScoringInput:
    """What a metric sees for one item of one model."""

    prediction: str
    reference: str | None = None
    item: EvalItem | None = None
    generation: Generation | None = None
    """None when scoring outputs produced elsewhere (``eval score``)."""

    @property
    def samples(self) -> tuple[str, ...]:
        """Every sampled answer (the consistency metric needs several)."""
        if self.generation is not None and self.generation.samples:
            return self.generation.samples
        return (self.prediction,)


@dataclass
class ScoringContext:
    """What metrics may need beyond the items: the project, the suite's folder, judges, caches."""

    project: Project | None = None
    base_dir: Path | None = None
    """Folder that relative paths in metric options (a JSON schema file) are read from."""
    judge: JudgeSettings | None = None
    """The judge settings; None: the defaults."""
    judge_backend: JudgeBackend | None = None
    """A ready judge backend (tests pass a fake); None: built from ``judge`` when first needed."""
    disk_cache: GenerationCache | None = None
    """The project's generation cache (judge verdicts are cached)."""
    use_cache: bool = True
    cache: dict[str, Any] = field(default_factory=dict)
    """Per-run scratch space (e.g. a loaded embedding model)."""

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        if candidate.is_absolute():
            return candidate
        if self.base_dir is not None and (self.base_dir / candidate).exists():
            return self.base_dir / candidate
        if self.project is not None:
            return self.project.resolve_path(candidate)
        return candidate


class MetricOptions(StrictModel):
    """Options every metric takes; each metric adds its own (see ``tuneloop eval metrics``)."""

    name: str
    """Registered metric name."""
    output: str | None = Field(default=None, alias="as")
    """Name of the main output in reports and gates (default: the metric's name). YAML key: ``as``."""
    group: Group | None = None
    """What the metric measures; gates can target a whole group (``no safety metric worse``)."""
    higher_is_better: bool | None = None
    """Direction; None keeps the metric's own default (e.g. False for latency and refusal)."""
    categories: list[str] | None = None
    """Score only items of these categories (others are left out of this metric)."""

    model_config = {"populate_by_name": True}


ScoreFunction = Callable[[list[ScoringInput], Any, ScoringContext], list[dict[str, MetricValue]]]
CompareFunction = Callable[[list[ScoringInput], list[ScoringInput], Any, ScoringContext], list[MetricValue]]
"""Pairwise metrics: (candidate inputs, baseline inputs) -> per item 1 win, 0.5 tie, 0 loss."""


@dataclass(frozen=True)
class SamplingRequest:
    """A metric that needs extra samples per item (consistency): how many, at what temperature."""

    num_samples: int
    temperature: float
    top_p: float = 0.95


@dataclass(frozen=True)
class MetricDefinition:
    """A registered metric."""

    name: str
    score: ScoreFunction | None
    """None for pairwise metrics, which only ``compare``."""
    options: type[MetricOptions]
    description: str
    group: Group = "quality"
    higher_is_better: bool | None = True
    needs_reference: bool = False
    extra_outputs: Callable[[Any], list[str]] | None = None
    """Names of the additional outputs for given options (``category_accuracy`` ...)."""
    sampling: Callable[[Any], SamplingRequest | None] | None = None
    compare: CompareFunction | None = None
    """Set for pairwise metrics: they compare two models' answers instead of scoring one model's."""

    @property
    def pairwise(self) -> bool:
        return self.compare is not None


METRICS: dict[str, MetricDefinition] = {}


def register_metric(definition: MetricDefinition) -> MetricDefinition:
    """Add (or replace) a metric in the registry."""
    METRICS[definition.name] = definition
    return definition


def get_metric(name: str) -> MetricDefinition:
    if name not in METRICS:
        hint = difflib.get_close_matches(name, list(METRICS), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise InvalidInput(
            "unknown_metric", f"unknown metric '{name}'{suggestion}; see `tuneloop eval metrics`"
        )
    return METRICS[name]


def parse_metric_options(raw: dict[str, Any] | str) -> MetricOptions:
    """Validate one metric entry of a suite (``{name: ..., <options>}`` or just a name)."""
    data = {"name": raw} if isinstance(raw, str) else dict(raw)
    definition = get_metric(str(data.get("name")))
    return definition.options.model_validate(data)


@dataclass(frozen=True)
class MetricOutput:
    """One named score column produced by a metric spec."""

    name: str
    metric: str
    group: str
    higher_is_better: bool | None


def outputs_of(options: MetricOptions) -> list[MetricOutput]:
    """The score columns a configured metric produces, with their direction and group."""
    definition = get_metric(options.name)
    group = options.group or definition.group
    direction = (
        options.higher_is_better if options.higher_is_better is not None else definition.higher_is_better
    )
    names = [options.output or definition.name]
    if definition.extra_outputs is not None:
        names += definition.extra_outputs(options)
    return [MetricOutput(name, definition.name, group, direction) for name in names]


ItemScorer = Callable[["ScoringInput", Any, "ScoringContext"], "MetricValue"]
"""A metric on one answer: (input, options, context) -> value (options: the metric's own options model)."""


def per_item(function: ItemScorer, name: str) -> ScoreFunction:
    """Lift a one-item scoring function to the list signature the registry uses."""

    def score(
        inputs: list[ScoringInput], options: Any, context: ScoringContext
    ) -> list[dict[str, MetricValue]]:
        return [{name: function(inp, options, context)} for inp in inputs]

    score.__doc__ = function.__doc__
    return score


def describe_options(options: type[BaseModel]) -> list[dict[str, Any]]:
    """A metric's own options with their defaults and docs (for ``tuneloop eval metrics``)."""
    common = set(MetricOptions.model_fields)
    rows = []
    for key, info in options.model_fields.items():
        if key in common:
            continue
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        rows.append(
            {
                "option": info.alias or key,
                "required": info.is_required(),
                "default": default,
                "doc": (info.description or "").strip(),
            }
        )
    return rows
