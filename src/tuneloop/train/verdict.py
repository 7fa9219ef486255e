"""Did it learn? A verdict on a finished training run, in plain words with the numbers behind it.

:func:`training_verdict` reads the run's metric history (the loop's ``(step, name, value)`` rows:
``loss``, ``eval_loss`` ...) and, when the post-training evaluation ran, each suite's primary metric
for the candidate, its foundation model and the fit target (``eval.fit_target`` or the suite's own).
It returns a :class:`Verdict`: one status, findings (code, severity, message) and the holdout-loss
curve. Pure functions on plain data: no model, no store, no CLI.

Statuses, the first that applies:

- ``unknown``: no loss was recorded.
- ``did_not_learn``: the holdout loss never went :data:`MIN_IMPROVEMENT` below its step-0 value (the
  training loss's first tenth against its last, without a holdout), after at least :data:`MIN_STEPS`
  steps; with fewer steps that is "too few steps to tell" (undertrained).
- ``overfit``: the holdout loss ended more than :data:`OVERFIT_RISE` above its lowest point, which was
  not the last evaluation, and the last step's weights were registered. When the run kept the best
  checkpoint (``keep_best``), the rise is reported as information ("overfit after step N; the best
  checkpoint (step N) was kept") and does not set the status.
- ``undertrained``: fewer than :data:`MIN_STEPS` optimizer steps; or the loss was still falling
  steeply at the end (over the last :data:`TAIL_FRACTION` of the run it fell at least
  :data:`STEEP_TAIL_RATIO` times as fast as over the whole run, and by at least :data:`MIN_TAIL_DROP`
  of its final value); or a suite's primary metric is far below its fit target (under
  :data:`FAR_BELOW_FIT_TARGET` of it, the rule the ``better_than`` gates use too).
- ``learned``: none of the above.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tuneloop.findings import Finding
from tuneloop.train.verdict_metrics import PrimaryMetric, metric_number, primary_metrics

Status = Literal["learned", "undertrained", "overfit", "did_not_learn", "unknown"]

MIN_STEPS = 30
"""Fewer optimizer steps than this is "few": LoRA's B matrices start at zero and the warm-up and
decay of the schedule take a share of every run, so a few dozen updates are the least that moves the
weights far. The support example measured it: 30 steps reached 0.475 category accuracy, 60 steps
0.838 (docs/evaluation.md), and the default batch derivation aims at about 100 steps."""
TAIL_FRACTION = 0.25
"""The end of the run whose slope is compared with the whole run's: the last quarter of its steps."""
STEEP_TAIL_RATIO = 0.5
"""Still falling steeply: the loss fell over the last quarter at least half as fast (per step, least
squares) as over the whole run. A converging run's curve flattens (the ratio of an exponential
approach over its last quarter is well under 0.2); a straight descent has a ratio of 1."""
MIN_TAIL_DROP = 0.02
"""...and the last quarter lowered the loss by at least 2% of its final value, so a slow drift on a
flat curve is not called steep."""
OVERFIT_RISE = 0.05
"""Overfit: the holdout loss ended more than 5% above its minimum. Smaller rises are within the noise
of a holdout of a few hundred examples evaluated a handful of times."""
MIN_IMPROVEMENT = 0.01
"""Learned anything: the lowest holdout loss is at least 1% below its step-0 value."""


@dataclass
class Verdict:
    status: Status
    headline: str
    """One plain sentence: the status and its main reason."""
    findings: list[Finding] = field(default_factory=list)
    eval_curve: list[tuple[int, float]] = field(default_factory=list)
    """The holdout loss by optimizer step (step 0 is the model before training)."""
    steps: int = 0
    epochs: float | None = None
    primary: list[PrimaryMetric] = field(default_factory=list)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def lines(self) -> list[str]:
        """The verdict as plain text lines (headline, then every finding)."""
        return [self.headline, *(f"{f.severity}: {f.message} [{f.code}]" for f in self.findings)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headline": self.headline,
            "findings": [f.to_dict() for f in self.findings],
            "eval_curve": [[step, value] for step, value in self.eval_curve],
            "steps": self.steps,
            "epochs": self.epochs,
            "primary": [p.to_dict() for p in self.primary],
        }


def training_verdict(
    history: Iterable[tuple[int, str, float]] | Mapping[str, Iterable[tuple[int, float]]],
    *,
    steps: int,
    steps_per_epoch: float | None = None,
    evaluation: Any = None,
    fit_target: float | Mapping[str, float | None] | None = None,
    stopped_early: bool = False,
    best_step: int | None = None,
    kept_best: bool = False,
) -> Verdict:
    """The verdict on one run (rules in the module docs).

    ``history``: ``(step, metric, value)`` rows (``LoopResult.history``) or ``{metric: [(step, value)]}``
    (``runs.metric_series``). ``evaluation``: the post-training evaluation (``DefaultSuitesResult``), its
    ``{"error": ...}`` dict, or a list of :class:`PrimaryMetric`. ``fit_target``: one target for every
    suite of the project, or one per suite reference (None: no target). ``stopped_early``,
    ``best_step``, ``kept_best``: from the run summary (early stopping, best-checkpoint selection)."""
    series = _series(history)
    train, holdout = series.get("loss", []), series.get("eval_loss", [])
    epochs = steps / steps_per_epoch if steps_per_epoch else None
    primary = primary_metrics(evaluation, fit_target)
    findings: list[Finding] = []
    reasons: dict[str, str] = {}
    few = steps < MIN_STEPS and not stopped_early
    if not train and not holdout:
        findings.append(Finding("verdict", "no_loss", "info", "no training or holdout loss was recorded"))
        return Verdict("unknown", "unknown: no loss was recorded, so nothing can be said", findings, [], steps,
                       epochs, primary)  # fmt: skip
    if few:
        span = f" ({epochs:.2g} epochs)" if epochs is not None else ""
        reasons["undertrained"] = f"only {steps} optimizer steps"
        findings.append(
            Finding(
                "verdict",
                "few_steps",
                "warning",
                f"only {steps} optimizer steps{span}: fewer than {MIN_STEPS} updates rarely move the weights "
                "far enough to learn a task; train longer (train.epochs, --max-steps) or put fewer examples "
                "in each step (train.examples_per_step)",
            )
        )
    if not holdout:
        findings.append(
            Finding(
                "verdict",
                "no_holdout_loss",
                "info",
                "no holdout loss was computed (data.holdout): the verdict rests on the training loss, "
                "which cannot show overfitting",
            )
        )
    _no_progress(train, holdout, steps, few, findings, reasons)
    _overfit(holdout, best_step, kept_best, findings, reasons)
    if stopped_early:
        where = f" at step {steps}" + (
            f"; the holdout loss was lowest at step {best_step}" if best_step else ""
        )
        findings.append(
            Finding(
                "verdict",
                "stopped_early",
                "info",
                f"early stopping ended the run{where} (it stopped improving)",
            )
        )
    elif "did_not_learn" not in reasons:
        _still_falling(holdout if len(holdout) >= 3 else train, "holdout" if len(holdout) >= 3 else "training",
                       findings, reasons)  # fmt: skip
    _metric_findings(evaluation, primary, findings, reasons)
    worst: tuple[Status, ...] = ("did_not_learn", "overfit", "undertrained")
    status: Status = next((candidate for candidate in worst if candidate in reasons), "learned")
    return Verdict(
        status, _headline(status, reasons, train, holdout), findings, holdout, steps, epochs, primary
    )


def history_rows(series: Mapping[str, Iterable[tuple[int, float]]]) -> list[tuple[int, str, float]]:
    """``runs.metric_series`` output as loop-history rows."""
    return [(int(step), name, float(value)) for name, points in series.items() for step, value in points]


def _series(
    history: Iterable[tuple[int, str, float]] | Mapping[str, Iterable[tuple[int, float]]],
) -> dict[str, list[tuple[int, float]]]:
    rows = history_rows(history) if isinstance(history, Mapping) else list(history)
    by_name: dict[str, dict[int, float]] = {}
    for step, name, value in rows:
        if value is not None and math.isfinite(float(value)):
            by_name.setdefault(name, {})[int(step)] = float(value)  # a repeated step: the last value
    return {name: sorted(points.items()) for name, points in by_name.items()}


def _no_progress(
    train: list[tuple[int, float]],
    holdout: list[tuple[int, float]],
    steps: int,
    few: bool,
    findings: list[Finding],
    reasons: dict[str, str],
) -> None:
    """did_not_learn: the holdout loss never fell below its start (or the training loss did not fall)."""
    if len(holdout) >= 2 and holdout[0][0] == 0:
        start = holdout[0][1]
        low_step, low = min(holdout[1:], key=lambda p: p[1])
        if low < start * (1 - MIN_IMPROVEMENT):
            return
        what = (
            f"the holdout loss never went below its value before training ({start:.4f}; lowest after "
            f"training began {low:.4f} at step {low_step})"
        )
    elif len(train) >= 4:
        window = max(1, len(train) // 10)
        first = sum(v for _, v in train[:window]) / window
        last = sum(v for _, v in train[-window:]) / window
        if last < first * (1 - MIN_IMPROVEMENT):
            return
        what = f"the training loss did not fall (first steps {first:.4f}, last steps {last:.4f})"
    else:
        return
    if few:
        findings.append(
            Finding(
                "verdict",
                "no_progress_yet",
                "warning",
                f"{what}; after {steps} steps that is too early to tell",
            )
        )
        return
    reasons["did_not_learn"] = what
    findings.append(
        Finding(
            "verdict",
            "did_not_learn",
            "warning",
            f"{what}: the model did not learn from this data. Check the learning rate (too high makes the "
            "loss rise, too low keeps it flat), the trained tokens in the pre-flight examples, and the data",
        )
    )


def _overfit(
    holdout: list[tuple[int, float]],
    best_step: int | None,
    kept_best: bool,
    findings: list[Finding],
    reasons: dict[str, str],
) -> None:
    if len(holdout) < 3:
        return
    low_step, low = min(holdout, key=lambda p: p[1])
    last_step, last = holdout[-1]
    if low_step == last_step or last <= low * (1 + OVERFIT_RISE):
        return
    rise = f"the holdout loss rose from {low:.4f} at step {low_step} to {last:.4f} at step {last_step} " + (
        f"(+{last / low - 1:.0%})"
    )
    if kept_best:
        kept = best_step if best_step is not None else low_step
        findings.append(
            Finding(
                "verdict",
                "overfit_best_kept",
                "info",
                f"overfit after step {low_step}: {rise}; the best checkpoint (step {kept}) was kept, so the "
                "registered version is not the overfit one. Fewer epochs would save the extra time",
            )
        )
        return
    reasons["overfit"] = f"overfit after step {low_step}"
    findings.append(
        Finding(
            "verdict",
            "overfit",
            "warning",
            f"overfit after step {low_step}: {rise}, and the registered weights are the last step's. Train "
            "fewer epochs, lower the learning rate or add data; train.keep_best registers the best "
            "checkpoint instead",
        )
    )


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of value by step."""
    n = len(points)
    mean_x = sum(s for s, _ in points) / n
    mean_y = sum(v for _, v in points) / n
    var = sum((s - mean_x) ** 2 for s, _ in points)
    if var == 0:
        return 0.0
    return sum((s - mean_x) * (v - mean_y) for s, v in points) / var


def tail_descent(points: list[tuple[int, float]]) -> tuple[float, float, int] | None:
    """(the last quarter's slope / the whole run's, the last quarter's drop / the final value, its
    first step), or None when the curve is too short or not falling."""
    if len(points) < 3:
        return None
    first, last = points[0][0], points[-1][0]
    span = last - first
    if span <= 0:
        return None
    boundary = last - TAIL_FRACTION * span
    start = max(i for i, (s, _) in enumerate(points) if s <= boundary)
    tail = points[start:]
    overall, late = _slope(points), _slope(tail)
    if overall >= 0 or late >= 0 or points[-1][1] == 0:
        return None
    drop = -late * (tail[-1][0] - tail[0][0]) / abs(points[-1][1])
    return late / overall, drop, tail[0][0]


def _still_falling(
    points: list[tuple[int, float]], which: str, findings: list[Finding], reasons: dict[str, str]
) -> None:
    descent = tail_descent(points)
    if descent is None:
        return
    ratio, drop, since = descent
    if ratio < STEEP_TAIL_RATIO or drop < MIN_TAIL_DROP:
        return
    reasons.setdefault("undertrained", f"the {which} loss was still falling steeply at the end")
    findings.append(
        Finding(
            "verdict",
            "still_falling",
            "warning",
            f"the {which} loss was still falling steeply at the end: −{drop:.1%} from step {since} to "
            f"{points[-1][0]}, at {ratio:.2f}× the run's average rate; more steps would likely lower it "
            "further (train.epochs, --max-steps)",
        )
    )


def _metric_findings(
    evaluation: Any, primary: list[PrimaryMetric], findings: list[Finding], reasons: dict[str, str]
) -> None:
    if isinstance(evaluation, Mapping) and evaluation.get("error"):
        findings.append(
            Finding(
                "verdict",
                "no_evaluation",
                "info",
                f"the post-training evaluation failed ({evaluation['error']}); the verdict rests on the losses",
            )
        )
    for metric in primary:
        findings.append(Finding("verdict", "primary_metric", "info", metric.describe()))
        if metric.candidate is None:
            continue
        if metric.comparison is not None and metric.comparison != "better" and metric.higher_is_better:
            findings.append(
                Finding(
                    "verdict",
                    "not_better_than_foundation",
                    "warning",
                    f"{metric.suite} {metric.metric} {metric.candidate:.3f} is not significantly better than "
                    f"the foundation model's {metric_number(metric.foundation)} ({metric.comparison})",
                )
            )
        gap = metric.gap
        if gap is None or gap == 0:
            continue
        if metric.far_below_target:
            reasons.setdefault(
                "undertrained",
                f"{metric.metric} {metric.candidate:.3f} is far below the fit target {metric.fit_target:g}",
            )
            findings.append(
                Finding(
                    "verdict",
                    "far_below_fit_target",
                    "warning",
                    f"{metric.suite} {metric.metric} {metric.candidate:.3f} is far below the fit target "
                    f"{metric.fit_target:g} ({gap:.3f} short): not yet useful, whatever it gained over the "
                    "foundation. Train longer if the loss was still falling; else add or fix data, or use a "
                    "larger base model",
                )
            )
        else:
            findings.append(
                Finding(
                    "verdict",
                    "below_fit_target",
                    "info",
                    f"{metric.suite} {metric.metric} {metric.candidate:.3f} is {gap:.3f} short of the fit "
                    f"target {metric.fit_target:g}",
                )
            )


def _headline(
    status: Status, reasons: dict[str, str], train: list[tuple[int, float]], holdout: list[tuple[int, float]]
) -> str:
    curve, which = (holdout, "holdout") if len(holdout) >= 2 else (train, "training")
    moved = f"the {which} loss went from {curve[0][1]:.4f} to {curve[-1][1]:.4f}" if len(curve) >= 2 else ""
    if status == "learned":
        return "learned: " + (moved + " and flattened out" if moved else "no warning sign in the losses")
    if status == "undertrained":
        return f"undertrained: {reasons['undertrained']}" + (f" ({moved})" if moved else "")
    if status == "overfit":
        return f"overfit: {reasons['overfit']}"
    return f"did not learn: {reasons['did_not_learn']}"
