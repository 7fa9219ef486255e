"""The primary metrics a training verdict reports: each suite's, for the candidate, against its
foundation model and the fit target, read from the post-training evaluation's reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tuneloop.evaluate.gates import far_below_fit_target
from tuneloop.evaluate.suites import BUILTIN_PREFIX


@dataclass
class PrimaryMetric:
    """One suite's primary metric after training: the candidate against its foundation and target."""

    suite: str
    metric: str
    candidate: float | None
    foundation: float | None = None
    delta: float | None = None
    p_value: float | None = None
    comparison: str | None = None
    """The paired test's verdict against the foundation ("better", "no significant difference" ...)."""
    fit_target: float | None = None
    higher_is_better: bool | None = True

    @property
    def gap(self) -> float | None:
        """How far the candidate is below the fit target (0 when it reached it)."""
        if self.candidate is None or self.fit_target is None or self.higher_is_better is not True:
            return None
        return max(0.0, self.fit_target - self.candidate)

    @property
    def far_below_target(self) -> bool:
        gap = self.gap
        # the rule the better_than gates use too
        return bool(gap) and far_below_fit_target(float(self.candidate or 0.0), float(self.fit_target or 0.0))

    def describe(self) -> str:
        """``support category_accuracy 0.040: foundation 0.000 (+0.040, better, p = 0.041); fit
        target 0.9, 0.860 short (far below)``."""
        text = f"{self.suite} {self.metric} {metric_number(self.candidate)}"
        if self.foundation is not None:
            text += f": foundation {metric_number(self.foundation)}"
            if self.delta is not None:
                text += f" ({self.delta:+.3f}, {self.comparison or '?'}"
                text += f", p = {self.p_value:.3g})" if self.p_value is not None else ")"
        gap = self.gap
        if gap is not None:
            text += f"; fit target {self.fit_target:g}, "
            text += (
                "reached"
                if gap == 0
                else f"{gap:.3f} short" + (" (far below)" if self.far_below_target else "")
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gap": self.gap, "far_below_target": self.far_below_target}


def primary_metrics(
    evaluation: Any, fit_target: float | Mapping[str, float | None] | None
) -> list[PrimaryMetric]:
    """Each suite's primary metric from the post-training evaluation (``DefaultSuitesResult``)."""
    if isinstance(evaluation, list):
        return list(evaluation)
    outcomes = getattr(evaluation, "outcomes", None)
    candidate = getattr(evaluation, "candidate", None)
    if not outcomes or candidate is None:
        return []
    found = []
    for outcome in outcomes:
        recorded = getattr(outcome, "recorded", None)
        if recorded is None:
            continue
        found.append(primary_from_report(recorded.data, candidate, _target_for(outcome.suite, fit_target)))
    return [p for p in found if p is not None]


def _target_for(reference: str, fit_target: float | Mapping[str, float | None] | None) -> float | None:
    if isinstance(fit_target, Mapping):
        return fit_target.get(reference)
    return None if fit_target is None or reference.startswith(BUILTIN_PREFIX) else float(fit_target)


def primary_from_report(
    data: Mapping[str, Any], candidate: str, fit_target: float | None
) -> PrimaryMetric | None:
    """The primary metric of one evaluation report (``report_data``) for ``candidate``."""
    metric = data["suite"]["primary_metric"]
    summary = data["models"].get(candidate, {}).get("summary", {}).get(metric)
    if summary is None:
        return None
    found = next(
        (
            c
            for c in data.get("comparisons", [])
            if c["candidate"] == candidate and c["metric"] == metric and c["role"] == "foundation"
        ),
        None,
    )
    return PrimaryMetric(
        suite=data["suite"]["name"],
        metric=metric,
        candidate=summary.get("mean"),
        foundation=found["baseline_mean"] if found else None,
        delta=found["delta"] if found else None,
        p_value=found["p_value"] if found else None,
        comparison=("unreliable" if found.get("unreliable") else found["verdict"]) if found else None,
        fit_target=fit_target,
        higher_is_better=summary.get("higher_is_better", True),
    )


def metric_number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
