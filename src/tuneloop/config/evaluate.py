"""The ``eval`` section: suites, significance, regression gates, baselines, the judge, caching.

Gate rules are defined here (not in the evaluate package) because both ``tuneloop.yaml`` and suite
files hold them. Their exact semantics are in ``docs/evaluation.md`` ("Gates").
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tuneloop.config.strict_model import StrictModel

GateRuleName = Literal[
    "at_least",
    "at_most",
    "better_than",
    "not_worse_than",
    "no_significant_regression",
    "no_significant_increase",
    "no_significant_decrease",
]
ABSOLUTE_RULES = ("at_least", "at_most")


class GateRule(StrictModel):
    """One regression gate: a rule on a metric (or a group of metrics), absolute or against a baseline."""

    metric: str | None = None
    """Score name (``category_accuracy``) or a glob (``*_accuracy``); give this or ``group``."""
    group: str | None = None
    """Every metric of a group (``safety``, ``format``, ``task`` ...), e.g. "no safety metric worse"."""
    rule: GateRuleName
    """at_least/at_most: the candidate's mean against ``value``. better_than: significantly better than
    the baseline (two-sided test, p < alpha). not_worse_than: non-inferiority — the one-sided (1 - alpha)
    lower bound of (candidate − baseline) is above ``-margin``. no_significant_regression: fails only if
    significantly worse. no_significant_increase / _decrease: fails only if significantly higher / lower,
    whatever the metric's direction."""
    baseline: str = "foundation"
    """``foundation``, ``parent``, ``production`` (the alias in ``baselines.production_alias``) or a
    model reference. Ignored by at_least/at_most."""
    value: float | None = None
    """Threshold of at_least/at_most."""
    margin: float = Field(default=0.0, ge=0.0)
    """Allowed loss for not_worse_than, in the metric's units (0.01 = one point of accuracy)."""
    alpha: float | None = Field(default=None, gt=0, lt=1)
    """Significance level of this gate; None uses ``eval.significance``."""
    suite: str | None = None
    """In tuneloop.yaml: apply only to this suite (its name); None: every suite with the metric."""
    required: bool = False
    """Fail (instead of skip) when the baseline does not exist, e.g. no production model yet."""
    max_failure_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    """Fail when more items than this share could not be scored (judge failures); None uses
    ``eval.judge.max_failure_rate``."""

    @model_validator(mode="after")
    def _consistent(self) -> GateRule:
        if (self.metric is None) == (self.group is None):
            raise ValueError("give exactly one of `metric` and `group`")
        if self.rule in ABSOLUTE_RULES and self.value is None:
            raise ValueError(f"rule '{self.rule}' needs a `value`")
        if self.rule not in ABSOLUTE_RULES and self.value is not None:
            raise ValueError(f"rule '{self.rule}' compares with a baseline and takes no `value`")
        if self.margin and self.rule != "not_worse_than":
            raise ValueError("`margin` applies only to rule 'not_worse_than'")
        return self

    def describe(self) -> str:
        """One line a person reads in the gate table."""
        target = self.metric or f"group {self.group}"
        if self.rule in ABSOLUTE_RULES:
            return f"{target} {'≥' if self.rule == 'at_least' else '≤'} {self.value:g}"
        if self.rule == "not_worse_than":
            return f"{target} ≥ {self.baseline} − {self.margin:g} (one-sided)"
        return f"{target}: {self.rule.replace('_', ' ')} {self.baseline}"


class JudgeSettings(StrictModel):
    """The LLM judge used by the ``judge_rubric`` and ``judge_pairwise`` metrics."""

    base_url: str | None = None
    """An OpenAI-compatible endpoint (``http://host:8000/v1``); None: run ``model`` locally."""
    model: str = "base:smollm2-135m-instruct"
    """The endpoint's model name, or a tuneloop model reference when ``base_url`` is None."""
    api_key_env: str | None = "OPENAI_API_KEY"
    """Environment variable holding the endpoint's API key (the key itself is never stored)."""
    structured_output: Literal["json_schema", "json_object", "none"] = "json_schema"
    """Ask the endpoint for schema-constrained JSON; falls back to plain text if it refuses."""
    temperature: float = Field(default=0.0, ge=0.0)
    """First attempt's temperature; retries sample at 0.7 so they can differ."""
    max_tokens: int = Field(default=300, ge=16)
    """Most tokens of one verdict."""
    max_retries: int = Field(default=2, ge=0)
    """Further attempts after an unparseable verdict or an endpoint error."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Per-request timeout."""
    concurrency: int = Field(default=4, ge=1)
    """Requests in flight at once to the endpoint."""
    max_failure_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    """A judged metric with more failed items than this share is marked unreliable and fails gates."""


class BaselineSettings(StrictModel):
    """Which baselines every candidate is compared with."""

    foundation: bool = True
    """The base model the candidate was fine-tuned from."""
    parent: bool = True
    """The version the candidate continued from, when it is not the foundation."""
    production: bool = True
    """The version behind ``<project>@<production_alias>``, when the alias exists."""
    production_alias: str = "production"
    """Alias naming the model in production."""


class EvalSection(StrictModel):
    """Evaluation settings."""

    suites: list[str] = Field(default_factory=list)
    """Suite YAML files of this project (``builtin:general`` names the built-in forgetting suite)."""
    default_suites: list[str] | None = None
    """Suites run after every training run; None means all of ``suites``."""
    forgetting_check: bool = True
    """Also run the built-in general-ability suite after training (reported as a delta vs foundation)."""
    significance: float = Field(default=0.05, gt=0, lt=1)
    """Level for 'better'/'worse' verdicts from paired tests."""
    bootstrap_resamples: int = Field(default=10_000, ge=100)
    """Resamples of the paired bootstrap (confidence intervals) and the permutation test."""
    gates: list[GateRule] = Field(default_factory=list)
    """Regression gates applied to every suite's results (suites can add their own)."""
    baselines: BaselineSettings = Field(default_factory=BaselineSettings)
    """Baselines compared with each candidate."""
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    """The LLM judge."""
    cache: bool = True
    """Cache generations and judge verdicts on disk (``.tuneloop/cache/evaluate``)."""
    fit_target: float = Field(default=0.9, ge=0.0)
    """Primary-metric score at which ``eval baseline`` says the foundation model already does the task."""
