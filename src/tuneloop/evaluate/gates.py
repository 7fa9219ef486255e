"""Regression gates: rules on a run's scores and paired comparisons; any failed gate fails the check.

Semantics (also in ``docs/evaluation.md``), with ``delta = candidate − baseline`` oriented so that
positive is better, and ``alpha`` the gate's level:

- ``at_least`` / ``at_most``: the candidate's mean score against ``value``;
- ``better_than``: the paired test (McNemar exact / sign-flip permutation) has p < alpha and the
  candidate is ahead. The result also states the candidate's absolute level and, on a suite's primary
  metric, how far it is from the fit target (the suite's ``fit_target``, else ``eval.fit_target``):
  "better than the foundation" is not "useful". Below :data:`FAR_BELOW_FIT_TARGET` of the target the
  reason says so; the gate still passes (it is relative), the minimum is an ``at_least`` gate;
- ``not_worse_than`` (non-inferiority): the one-sided (1 − alpha) lower confidence bound of delta,
  from the paired bootstrap, is above ``−margin`` — "accuracy ≥ production − 1 point with p < 0.05"
  is ``{rule: not_worse_than, baseline: production, margin: 0.01, alpha: 0.05}``;
- ``no_significant_regression``: fails only when the candidate is significantly worse;
- ``no_significant_increase`` / ``no_significant_decrease``: fails only when the raw score is
  significantly higher / lower, whatever the metric's direction (e.g. refusal rate, length).

``metric: primary`` names the suite's primary metric; in tuneloop.yaml it applies to the project's
suites, not to the built-in forgetting suite (``builtin:general``, judged against the foundation) nor
to ``eval score --metric`` (unless the gate names the suite).

A gate whose baseline does not exist in this run (no production alias yet) is skipped, unless it is
``required``. A metric with more unscorable items than ``max_failure_rate`` fails every gate on it.
A suite gate naming a metric the suite does not have fails (a typo must not pass silently); a
project-wide gate only applies to suites that have its metric.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tuneloop.config.evaluate import ABSOLUTE_RULES, EvalSection, GateRule
from tuneloop.evaluate.stats import non_inferiority

if TYPE_CHECKING:
    from tuneloop.evaluate.runner import EvalRun, MetricComparison
    from tuneloop.evaluate.suites import LoadedSuite
    from tuneloop.project import Project

ROLE_NAMES = ("foundation", "parent", "production")
GateStatus = Literal["passed", "failed", "skipped"]
PRIMARY = "primary"
"""``metric: primary`` in a gate: the suite's primary metric."""
FAR_BELOW_FIT_TARGET = 0.75
"""A primary metric under this share of its fit target is "far below" it (with the default target
0.9: under 0.675, a third or more of the answers wrong), however much better than a baseline it is.
The training verdict uses the same rule."""


def far_below_fit_target(value: float, target: float) -> bool:
    """``value`` is far below the fit ``target`` (see :data:`FAR_BELOW_FIT_TARGET`)."""
    return value < FAR_BELOW_FIT_TARGET * target


def is_project_suite(loaded: LoadedSuite) -> bool:
    """A suite of the project's task: not built-in (the forgetting check) and not the one-metric suite
    of ``eval score --metric`` (``metric:<name>``)."""
    from tuneloop.evaluate.suites import BUILTIN_PREFIX

    return not loaded.reference.startswith((BUILTIN_PREFIX, "metric:"))


def suite_fit_target(loaded: LoadedSuite, project: Project | None) -> float | None:
    """The fit target of a suite's primary metric: the suite's own, else ``eval.fit_target``; None for
    suites that are not the project's task (:func:`is_project_suite`)."""
    if not is_project_suite(loaded):
        return None
    if loaded.suite.fit_target is not None:
        return loaded.suite.fit_target
    return project.config.eval.fit_target if project is not None else None


@dataclass
class GateResult:
    """One gate decision: a rule applied to one score of one candidate. The one gate-result type of
    every stage: evaluation gates (a metric of a suite) and red-team gates (the failure rate of one
    probe category, ``category`` set) alike."""

    candidate: str
    rule: str
    """The rule as a person reads it."""
    metric: str | None
    baseline: str | None
    status: GateStatus
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    origin: str = "suite"
    category: str | None = None
    """The item category the gate judges alone (red-team gates: one per probe category)."""
    report_only: bool = False
    """Shown in reports, never failing the check (red-team ``gate.report_only`` categories)."""

    @property
    def blocking(self) -> bool:
        """This decision fails the check: the rule failed and the gate is not report-only."""
        return self.status == "failed" and not self.report_only

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"category": self.category} if self.category is not None else {}
        if self.report_only:
            extra["report_only"] = True
        return {
            "candidate": self.candidate,
            "rule": self.rule,
            "metric": self.metric,
            "baseline": self.baseline,
            "status": self.status,
            "reason": self.reason,
            "numbers": self.numbers,
            "origin": self.origin,
        } | extra


def gates_passed(gates: list[GateResult]) -> bool:
    """A check passes when none of its gates blocks it (no gates: passed)."""
    return not any(g.blocking for g in gates)


@dataclass(frozen=True)
class ScopedRule:
    rule: GateRule
    origin: Literal["suite", "project"]


def gates_for(loaded: LoadedSuite, project: Project | None) -> list[ScopedRule]:
    """The suite's own gates plus the project's gates that apply to this suite."""
    rules = [ScopedRule(rule, "suite") for rule in loaded.suite.gates]
    if project is not None:
        task = is_project_suite(loaded)
        rules += [
            ScopedRule(rule, "project")
            for rule in project.config.eval.gates
            if (rule.suite is None or rule.suite == loaded.suite.name)
            and (task or rule.suite is not None or rule.metric != PRIMARY)
        ]
    return rules


def gate_baseline_references(rules: list[ScopedRule]) -> list[str]:
    """Model references named as gate baselines (they join the run as explicit baselines)."""
    return [
        r.rule.baseline
        for r in rules
        if r.rule.rule not in ABSOLUTE_RULES and r.rule.baseline not in ROLE_NAMES
    ]


def _columns(run: EvalRun, candidate: str, rule: GateRule) -> list[tuple[str, str]]:
    """(column, group) pairs the rule targets for this candidate."""
    table = run.models[candidate].table
    known = {name: info.group for name, info in table.columns.items()}
    known |= {c.metric: c.group for c in run.comparisons_of(candidate) if c.pairwise}
    if rule.metric == PRIMARY and PRIMARY not in known:
        primary = run.suite.suite.primary
        return [(name, group) for name, group in known.items() if name == primary]
    if rule.metric is not None:
        return [(name, group) for name, group in known.items() if fnmatch.fnmatchcase(name, rule.metric)]
    return [(name, group) for name, group in known.items() if group == rule.group]


def _role_of(run: EvalRun, candidate: str, baseline: str) -> str | None:
    plan = next(p for p in run.plan.candidates if p.reference == candidate)
    if baseline in plan.baselines:
        return baseline
    return next((role for role, ref in plan.baselines.items() if ref == baseline), None)


def evaluate_gates(run: EvalRun, rules: list[ScopedRule], project: Project | None) -> list[GateResult]:
    """Apply every rule to every candidate of the run."""
    default_failure = (project.config.eval if project is not None else EvalSection()).judge.max_failure_rate
    level = (run.suite.suite.primary, suite_fit_target(run.suite, project))
    results = []
    for candidate in run.candidates:
        for scoped in rules:
            rule = scoped.rule
            columns = _columns(run, candidate, rule)
            if not columns:
                status: GateStatus = "failed" if scoped.origin == "suite" else "skipped"
                target = rule.metric or f"group {rule.group}"
                results.append(
                    GateResult(
                        candidate,
                        rule.describe(),
                        None,
                        None,
                        status,
                        f"suite '{run.suite.suite.name}' has no metric matching {target}",
                        origin=scoped.origin,
                    )
                )
                continue
            for column, _group in columns:
                result = _apply(
                    run,
                    candidate,
                    rule,
                    column,
                    rule.max_failure_rate if rule.max_failure_rate is not None else default_failure,
                    level,
                )
                result.origin = scoped.origin
                results.append(result)
    return results


def _apply(
    run: EvalRun,
    candidate: str,
    rule: GateRule,
    column: str,
    max_failure_rate: float,
    level: tuple[str, float | None] = ("", None),
) -> GateResult:
    alpha = rule.alpha or run.alpha
    described = rule.describe()
    if rule.rule in ABSOLUTE_RULES:
        return _absolute(run, candidate, rule, column, max_failure_rate, described)
    role = _role_of(run, candidate, rule.baseline)
    found = [c for c in run.comparisons_of(candidate, role) if c.metric == column] if role else []
    if not found:
        status: GateStatus = "failed" if rule.required else "skipped"
        why = f"no '{rule.baseline}' baseline for {candidate} in this run"
        return GateResult(
            candidate,
            described,
            column,
            rule.baseline,
            status,
            why + (" (required)" if rule.required else ""),
        )
    compared = found[0]
    failures = max(compared.candidate_failures, compared.baseline_failures)
    table = run.models[candidate].table
    applicable = table.applicable(column) if column in table.columns else compared.comparison.n + failures
    if applicable and failures / applicable > max_failure_rate:
        return GateResult(
            candidate,
            described,
            column,
            role,
            "failed",
            f"{failures} of {applicable} items could not be scored (more than {max_failure_rate:.0%}); "
            "result unreliable",
        )
    fit_target = level[1] if column == level[0] else None
    return _relative(compared, rule, alpha, described, role or rule.baseline, fit_target)


def _absolute(
    run: EvalRun, candidate: str, rule: GateRule, column: str, max_failure_rate: float, described: str
) -> GateResult:
    table = run.models[candidate].table
    applicable, failures = table.applicable(column), table.failures(column)
    if applicable and failures / applicable > max_failure_rate:
        return GateResult(
            candidate,
            described,
            column,
            None,
            "failed",
            f"{failures} of {applicable} items could not be scored; result unreliable",
        )
    mean = table.mean(column)
    if mean is None:
        return GateResult(candidate, described, column, None, "failed", "no item could be scored")
    threshold = float(rule.value or 0.0)
    ok = mean >= threshold if rule.rule == "at_least" else mean <= threshold
    sign = "≥" if rule.rule == "at_least" else "≤"
    reason = f"{column} = {mean:.4g} {'' if ok else 'not '}{sign} {threshold:g}"
    return GateResult(
        candidate,
        described,
        column,
        None,
        "passed" if ok else "failed",
        reason,
        {"mean": mean, "value": threshold, "n": applicable - failures},
    )


def _relative(
    compared: MetricComparison,
    rule: GateRule,
    alpha: float,
    described: str,
    role: str,
    fit_target: float | None = None,
) -> GateResult:
    c = compared.comparison
    significant = c.p_value < alpha
    numbers: dict[str, Any] = {
        "delta": c.delta,
        "ci": list(c.ci),
        "p_value": c.p_value,
        "n": c.n,
        "alpha": alpha,
        "candidate_mean": c.candidate_mean,
        "baseline_mean": c.baseline_mean,
    }
    stats = f"Δ {c.delta:+.4g} (CI {c.ci[0]:+.3g}..{c.ci[1]:+.3g}), p = {c.p_value:.3g}, n = {c.n}"
    direction = c.higher_is_better
    if rule.rule in ("better_than", "not_worse_than", "no_significant_regression") and direction is None:
        return GateResult(
            compared.candidate,
            described,
            compared.metric,
            role,
            "failed",
            f"{compared.metric} has no good direction; use no_significant_increase/decrease",
            numbers,
        )
    ahead = c.delta * (-1 if direction is False else 1)
    if rule.rule == "better_than":
        ok = significant and ahead > 0
        stats = _level(compared, role, ok, fit_target, numbers, stats)
    elif rule.rule == "no_significant_regression":
        ok = not (significant and ahead < 0)
    elif rule.rule == "no_significant_increase":
        ok = not (significant and c.delta > 0)
    elif rule.rule == "no_significant_decrease":
        ok = not (significant and c.delta < 0)
    else:
        ok, stats = _non_inferior(compared, rule, alpha, numbers, stats)
    return GateResult(
        compared.candidate, described, compared.metric, role, "passed" if ok else "failed", stats, numbers
    )


def _level(
    compared: MetricComparison,
    role: str,
    ok: bool,
    fit_target: float | None,
    numbers: dict[str, Any],
    stats: str,
) -> str:
    """A better_than result in words with the candidate's absolute level: "significantly better than
    foundation (0.04 vs 0.00) ... but 0.04 is far below the fit target 0.9"."""
    c = compared.comparison
    head = "significantly better" if ok else "not significantly better"
    text = f"{head} than {role} ({c.candidate_mean:.3g} vs {c.baseline_mean:.3g}; {stats})"
    numbers["level"] = c.candidate_mean
    if fit_target is None or c.higher_is_better is not True:
        return text
    gap = fit_target - c.candidate_mean
    far = far_below_fit_target(c.candidate_mean, fit_target)
    numbers |= {"fit_target": fit_target, "fit_target_gap": max(0.0, gap), "far_below_fit_target": far}
    if gap <= 0:
        return f"{text}; {c.candidate_mean:.3g} reaches the fit target {fit_target:g}"
    if far:
        return (
            f"{text}{' but' if ok else '; and'} {c.candidate_mean:.3g} is far below the fit target "
            f"{fit_target:g} ({gap:.3g} short): not yet useful; an at_least gate sets the minimum"
        )
    return f"{text}; {c.candidate_mean:.3g} is {gap:.3g} short of the fit target {fit_target:g}"


def _non_inferior(
    compared: MetricComparison, rule: GateRule, alpha: float, numbers: dict[str, Any], stats: str
) -> tuple[bool, str]:
    if compared.pairwise:
        # Win rate minus one half: its lower bound must stay above -margin.
        bound = compared.comparison.ci[0]
        numbers["lower_bound"] = bound
        return bound > -rule.margin, f"{stats}; lower bound {bound:+.4g} vs −{rule.margin:g}"
    test = non_inferiority(
        compared.candidate_scores,
        compared.baseline_scores,
        rule.margin,
        alpha,
        higher_is_better=compared.comparison.higher_is_better,
    )
    numbers |= {"lower_bound": test.lower_bound, "non_inferiority_p": test.p_value, "margin": rule.margin}
    detail = f"{stats}; one-sided {1 - alpha:.0%} lower bound {test.lower_bound:+.4g} vs −{rule.margin:g}"
    return test.passed, detail
