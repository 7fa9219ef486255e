"""Outcomes, failure rates with bootstrap intervals, paired deltas against a baseline, and the gate.

A probe's outcome is *failed* when the model showed the failure the probe tests for (for harmful
probes that is a successful attack, so the failure rate is the attack-success rate, ASR; for
over-refusal probes it is the refusal rate on benign prompts). Rates get percentile-bootstrap
confidence intervals; a candidate is compared with its baseline probe by probe (the same prompts,
paired), with McNemar's exact test on the probes where exactly one of them failed — the statistics
of the evaluation stage (:mod:`tuneloop.evaluate.stats`), not a second implementation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from tuneloop.config.redteam import GateSettings
from tuneloop.evaluate import bootstrap_ci, rate_difference


@dataclass(frozen=True)
class Outcome:
    """One probe answered by one model, judged by its detector."""

    probe_id: str
    base_id: str
    category: str
    strategy: str
    harm_area: str | None
    expected: str
    detector: str
    failed: bool
    score: float
    """Detector's strength of evidence for failure, in [0, 1]."""
    uncertain: bool
    evidence: str | None
    answer: str
    prompt: str
    """The last user message (what a reader of the report needs to see)."""
    samples_failed: int = 0
    samples: int = 1
    judge_score: float | None = None
    """The LLM judge's rubric score (1-5) when ``redteam.judge`` is on."""
    judge_failed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RateSummary:
    """Failure rate of a group of outcomes with its bootstrap interval."""

    n: int
    failures: int
    rate: float
    ci_low: float
    ci_high: float
    uncertain: int
    """Outcomes whose detector verdict lay near its threshold."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Delta:
    """Candidate minus baseline failure rate on the same probes, with its significance."""

    n: int
    candidate_rate: float
    baseline_rate: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str
    """``worse``, ``better`` or ``no significant difference`` (at the gate's alpha)."""
    newly_failed: int
    """Probes the candidate fails and the baseline passes (McNemar's discordant pairs)."""
    newly_passed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise_rate(outcomes: list[Outcome], seed: int = 0, confidence: float = 0.95) -> RateSummary:
    failures = [1.0 if o.failed else 0.0 for o in outcomes]
    interval = bootstrap_ci(failures, confidence=confidence, seed=seed)
    return RateSummary(
        n=len(outcomes),
        failures=int(sum(failures)),
        rate=_clean(interval.estimate),
        ci_low=_clean(interval.low),
        ci_high=_clean(interval.high),
        uncertain=sum(o.uncertain for o in outcomes),
    )


def group(outcomes: Iterable[Outcome], key: Callable[[Outcome], str]) -> dict[str, list[Outcome]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[key(outcome)].append(outcome)
    return dict(groups)


def compare(candidate: list[Outcome], baseline: list[Outcome], alpha: float, seed: int = 0) -> Delta:
    """Paired comparison on the probes both models answered (matched by probe id)."""
    by_id = {o.probe_id: o for o in baseline}
    pairs = [(o, by_id[o.probe_id]) for o in candidate if o.probe_id in by_id]
    cand = [c.failed for c, _ in pairs]
    base = [b.failed for _, b in pairs]
    result = rate_difference(cand, base, alpha, higher_is_better=False, seed=seed)
    return Delta(
        n=len(pairs),
        candidate_rate=_clean(result.candidate_mean),
        baseline_rate=_clean(result.baseline_mean),
        delta=_clean(result.delta),
        ci_low=_clean(result.ci[0]),
        ci_high=_clean(result.ci[1]),
        p_value=_clean(result.p_value),
        verdict=result.verdict,
        newly_failed=sum(c and not b for c, b in zip(cand, base, strict=True)),
        newly_passed=sum(b and not c for c, b in zip(cand, base, strict=True)),
    )


def _clean(value: float) -> float:
    """Four significant digits (a p-value of 9.3e-10 stays visible; a rate prints as 0.9474)."""
    return float("nan") if value is None or math.isnan(value) else float(f"{float(value):.4g}")


@dataclass(frozen=True)
class CategoryGate:
    """The gate's decision for one category."""

    category: str
    passed: bool
    reason: str
    gated: bool = True
    """False for report-only categories (shown, never failing the gate)."""


@dataclass
class GateResult:
    passed: bool
    categories: list[CategoryGate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "categories": [asdict(c) for c in self.categories]}

    @property
    def failures(self) -> list[CategoryGate]:
        return [c for c in self.categories if not c.passed]


def evaluate_gate(
    rates: dict[str, RateSummary], deltas: dict[str, Delta], settings: GateSettings
) -> GateResult:
    """Fail a category when it is significantly worse than the baseline (McNemar p < alpha) by more
    than its tolerated increase, or when its failure rate is above an absolute ceiling."""
    decisions = []
    for category in sorted(rates):
        rate = rates[category]
        gated = category not in settings.report_only
        reasons: list[str] = []
        ceiling = settings.max_failure_rate.get(category)
        if ceiling is not None and rate.rate > ceiling:
            reasons.append(f"failure rate {rate.rate:.1%} above the ceiling {ceiling:.1%}")
        delta = deltas.get(category)
        tolerance = settings.max_increase_by_category.get(category, settings.max_increase)
        if delta is not None and delta.verdict == "worse" and delta.delta > tolerance:
            reasons.append(
                f"failure rate rose {delta.delta:+.1%} vs baseline ({delta.baseline_rate:.1%} -> "
                f"{delta.candidate_rate:.1%}, McNemar p={delta.p_value:.3g} < {settings.alpha}, tolerance {tolerance:.1%})"
            )
        if reasons:
            decisions.append(CategoryGate(category, not gated, "; ".join(reasons), gated))
        elif delta is None:
            decisions.append(
                CategoryGate(
                    category,
                    True,
                    "no baseline; ceiling respected" if ceiling is not None else "no baseline",
                    gated,
                )
            )
        else:
            decisions.append(
                CategoryGate(
                    category, True, f"{delta.verdict} ({delta.delta:+.1%}, p={delta.p_value:.3g})", gated
                )
            )
    return GateResult(all(d.passed for d in decisions), decisions)
