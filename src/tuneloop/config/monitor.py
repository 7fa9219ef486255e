"""The ``monitor`` section: drift of production traffic against the training data (monitoring stage)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from tuneloop.config.strict_model import StrictModel

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> float:
    """Seconds in a duration such as ``90m``, ``24h`` or ``7d``; ValueError for anything else."""
    match = DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (a number and one of s, m, h, d, w: 30m, 24h, 7d)")
    return float(match.group(1)) * SECONDS_PER_UNIT[match.group(2)]


class DriftSettings(StrictModel):
    """How a window of production traffic is compared with the training reference."""

    window: str = "24h"
    """The production window compared per run (``30m``, ``24h``, ``7d``); consecutive windows feed
    the sustained-drift state machine."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Significance level of each window's embedding test (false alarms per same-distribution window),
    and the family-wise level of its descriptor tests (Bonferroni)."""
    method: str = Field(default="mmd", pattern="^(mmd|domain_classifier)$")
    """The embedding test that decides a window: ``mmd`` (kernel two-sample test) or
    ``domain_classifier`` (out-of-fold ROC AUC of a classifier telling the two apart); both are
    reported."""
    permutations: int = Field(default=200, ge=19)
    """Permutations behind each p-value (19 is the fewest that can reach p < 0.05)."""
    max_per_side: int = Field(default=1000, ge=20)
    """Larger windows and references are subsampled to this many inputs (bounds the cost)."""
    min_window: int = Field(default=30, ge=5)
    """A window with fewer production inputs is reported as too small and not tested."""
    sustain_windows: int = Field(default=3, ge=1)
    """Consecutive drifting windows before drift counts as sustained (the retraining trigger)."""
    recover_windows: int = Field(default=2, ge=1)
    """Consecutive clean windows before sustained drift is over."""
    novel_similarity: float = Field(default=0.5, ge=0, le=1)
    """A production input whose closest training input is less similar than this (cosine of MiniLM
    embeddings) has no close training neighbour: a candidate for new training data."""

    @field_validator("window")
    @classmethod
    def _window_is_a_duration(cls, value: str) -> str:
        duration_seconds(value)
        return value


class OnlineEvalSettings(StrictModel):
    """Continuous evaluation: score a sample of logged answers with reference-free metrics."""

    window: str = "24h"
    """The window of logged responses sampled per run."""
    sample_share: float = Field(default=0.1, gt=0, le=1)
    """Share of the window's logged responses that are scored."""
    max_samples: int = Field(default=200, ge=1)
    """At most this many responses per window (judges cost time)."""
    min_samples: int = Field(default=20, ge=2)
    """Fewer scored responses: the window is recorded but never alerts."""
    metrics: list[str | dict[str, Any]] | None = None
    """Metrics to score, as in a suite (``json_valid``, ``{name: judge_rubric, ...}``). None: the
    reference-free metrics of the project's first suite, and ``refusal_rate``."""
    baseline_windows: int = Field(default=3, ge=1)
    """A window is compared with the pooled scores of this many previous windows of the same version."""
    alert_drop: float = Field(default=0.1, gt=0)
    """Alert when a metric is worse than its baseline by at least this much (absolute, in the metric's
    units) and the difference is significant at ``alpha``."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Level of the test behind an alert (Welch's t-test on the per-response scores)."""

    @field_validator("window")
    @classmethod
    def _window_is_a_duration(cls, value: str) -> str:
        duration_seconds(value)
        return value


Condition = Literal["drift_sustained", "quality_drop"] | dict[str, int | str]
"""One retraining condition: ``drift_sustained`` (the production segment's drift state is sustained),
``quality_drop`` (the latest online evaluation alerted), ``{min_curated: K}`` (at least K curated
feedback examples not yet trained on), ``{every: 30d}`` (the serving version is older than that)."""


class RetrainPolicy(StrictModel):
    """When ``tuneloop monitor run`` retrains, and what happens to the candidate."""

    model: str | None = None
    """The served model watched and retrained (``name@alias``); None: ``<project>@production``."""
    when: list[list[Condition]] = Field(default_factory=list)
    """Groups of conditions: retraining fires when every condition of any one group holds (OR of
    ANDs), e.g. ``[[drift_sustained, {min_curated: 50}], [{every: 30d}]]``. Empty: never."""
    promote: Literal["none", "canary", "production"] = "none"
    """After a retraining whose gates all pass: move this alias to the candidate (``none``: wait for a
    person to run ``tuneloop registry promote``)."""
    webhook_url: str | None = None
    """POST a JSON alert here on drift, quality drops, retraining started/finished and gate failures."""
    lock_timeout: str = "12h"
    """A retraining lock older than this is considered abandoned (its process died) and taken over."""

    @field_validator("when")
    @classmethod
    def _conditions_are_known(cls, groups: list[list[Condition]]) -> list[list[Condition]]:
        for group in groups:
            if not group:
                raise ValueError("a condition group must not be empty")
            for condition in group:
                if isinstance(condition, dict):
                    if len(condition) != 1 or next(iter(condition)) not in ("min_curated", "every"):
                        raise ValueError(f"unknown condition {condition!r}: use min_curated or every")
                    if "every" in condition:
                        duration_seconds(str(condition["every"]))
                    elif int(condition["min_curated"]) < 1:
                        raise ValueError("min_curated must be at least 1")
        return groups

    @field_validator("lock_timeout")
    @classmethod
    def _timeout_is_a_duration(cls, value: str) -> str:
        duration_seconds(value)
        return value


class MonitorSection(StrictModel):
    """Monitoring settings."""

    drift: DriftSettings = Field(default_factory=DriftSettings)
    """Drift detection on production inputs and outputs."""
    evaluate: OnlineEvalSettings = Field(default_factory=OnlineEvalSettings)
    """Continuous evaluation of sampled production answers."""
    retrain: RetrainPolicy = Field(default_factory=RetrainPolicy)
    """The retraining policy ``tuneloop monitor run`` applies."""
