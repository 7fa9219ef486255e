"""Paired statistics: is the candidate better than the baseline on the *same* items?

Every model of an evaluation answers the same items, so differences are measured item by item
(paired), which removes the variance of item difficulty and needs far fewer items than comparing
two unpaired accuracies:

- binary metrics (right/wrong): McNemar's exact test on the discordant pairs — items one model got
  right and the other wrong (``b``: candidate only, ``c``: baseline only). Under "no difference" each
  discordant item is a fair coin, so ``p = P(Binomial(b + c, 1/2) as extreme as observed)``.
- continuous metrics (ROUGE-L, judge scores): a paired sign-flip permutation test on the per-item
  differences for the p-value, and a paired bootstrap percentile interval for the mean difference.
- pairwise judgements (win/tie/loss): the same exact binomial test on wins against losses.

The verdict ("better", "worse", "no significant difference") always comes from the p-value at level
``alpha``; the confidence interval is reported beside it. Non-inferiority ("not worse than the
baseline by more than a margin") uses the one-sided lower bound of the difference's interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import numpy as np

Kind = Literal["binary", "continuous"]
Verdict = Literal["better", "worse", "higher", "lower", "no significant difference"]
"""``higher``/``lower`` for metrics without a good direction (length, latency when not gated)."""
Alternative = Literal["two-sided", "greater", "less"]

DEFAULT_RESAMPLES = 10_000


class Interval(NamedTuple):
    """A point estimate with a confidence interval (unpacks as ``mean, low, high``)."""

    estimate: float
    low: float
    high: float


def mcnemar_exact(b: int, c: int, alternative: Alternative = "two-sided") -> float:
    """Exact McNemar p-value from the discordant counts.

    ``b``: pairs where only the candidate is right; ``c``: only the baseline. ``greater`` tests
    "candidate better" (b > c). Two-sided doubles the smaller tail (the distribution is symmetric).
    """
    from scipy.stats import binom

    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n = b + c
    if n == 0:
        return 1.0
    if alternative == "greater":
        return float(binom.sf(b - 1, n, 0.5))
    if alternative == "less":
        return float(binom.cdf(b, n, 0.5))
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), n, 0.5)))


def _resample_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``n_resamples`` bootstrap resamples (drawn in chunks to bound memory)."""
    rng = np.random.default_rng(seed)
    n = len(values)
    chunk = max(1, min(n_resamples, 2_000_000 // max(n, 1)))
    means = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        means.append(values[rng.integers(0, n, size=(size, n))].mean(axis=1))
    return np.concatenate(means)


def bootstrap_ci(
    values: Sequence[float],
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval for the mean of ``values`` (e.g. a rate of 0/1 outcomes)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    mean = float(array.mean())
    if array.size == 1 or np.all(array == array[0]):
        return Interval(mean, mean, mean)
    means = _resample_means(array, n_resamples, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(mean, float(low), float(high))


def paired_bootstrap(
    diffs: Sequence[float],
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of the mean per-item difference (candidate − baseline).

    Resampling whole items keeps each item's pair together, which is what makes it paired.
    """
    return bootstrap_ci(diffs, n_resamples=n_resamples, confidence=confidence, seed=seed)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion: well behaved at small ``n`` and rates near 0 or 1."""
    from scipy.stats import norm

    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    rate = successes / n
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denominator
    return Interval(rate, max(0.0, float(centre - half)), min(1.0, float(centre + half)))


def sign_flip_test(
    diffs: Sequence[float],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    alternative: Alternative = "two-sided",
) -> float:
    """Paired permutation test: under "no difference" each item's difference is as likely negative.

    Exact (all sign patterns) up to 16 non-zero differences, Monte Carlo beyond; the Monte Carlo
    p-value counts the observed pattern so it is never 0 (Phipson & Smyth 2010).
    """
    array = np.asarray([d for d in diffs if d != 0], dtype=float)
    if array.size == 0:
        return 1.0
    observed = float(array.sum())
    if array.size <= 16:
        patterns = ((np.arange(2**array.size)[:, None] >> np.arange(array.size)) & 1) * 2 - 1
        sums = patterns @ array
        return _tail(sums, observed, alternative, exact=True)
    rng = np.random.default_rng(seed)
    sums = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // array.size)
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        signs = rng.integers(0, 2, size=(size, array.size)) * 2 - 1
        sums[start : start + size] = signs @ array
    return _tail(sums, observed, alternative, exact=False)


def _tail(sums: np.ndarray, observed: float, alternative: Alternative, exact: bool) -> float:
    tolerance = 1e-12 * max(1.0, abs(observed))
    if alternative == "greater":
        hits = int(np.sum(sums >= observed - tolerance))
    elif alternative == "less":
        hits = int(np.sum(sums <= observed + tolerance))
    else:
        hits = int(np.sum(np.abs(sums) >= abs(observed) - tolerance))
    if exact:
        return min(1.0, hits / len(sums))
    return min(1.0, (hits + 1) / (len(sums) + 1))


@dataclass(frozen=True)
class Comparison:
    """Candidate against baseline on one metric, over the items both were scored on."""

    verdict: Verdict
    delta: float
    """Mean candidate score minus mean baseline score (in the metric's units)."""
    ci: tuple[float, float]
    """Confidence interval of ``delta`` at level ``1 - alpha`` (paired bootstrap)."""
    p_value: float
    """Two-sided p-value of "no difference" (McNemar exact, or sign-flip permutation)."""
    wins: int
    """Items where the candidate scored better (in the metric's direction)."""
    ties: int
    losses: int
    n: int
    candidate_mean: float
    baseline_mean: float
    kind: Kind
    test: str
    alpha: float
    higher_is_better: bool | None = True
    """None: the metric has no good direction (length); the verdict then says higher or lower."""

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["ci"] = list(self.ci)
        return data


def _direction(higher_is_better: bool | None) -> float:
    return -1.0 if higher_is_better is False else 1.0


def compare_paired(
    candidate_scores: Sequence[float],
    baseline_scores: Sequence[float],
    kind: Kind = "continuous",
    alpha: float = 0.05,
    *,
    higher_is_better: bool | None = True,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Compare two equally long score lists paired by position (item ``i`` in both)."""
    if len(candidate_scores) != len(baseline_scores):
        raise ValueError("paired scores must have the same length")
    candidate = np.asarray(candidate_scores, dtype=float)
    baseline = np.asarray(baseline_scores, dtype=float)
    n = int(candidate.size)
    if n == 0:
        nan = float("nan")
        return Comparison(
            "no significant difference",
            nan,
            (nan, nan),
            1.0,
            0,
            0,
            0,
            0,
            nan,
            nan,
            kind,
            "none",
            alpha,
            higher_is_better,
        )
    diffs = candidate - baseline
    oriented = diffs * _direction(higher_is_better)
    # Float noise (0.1 + 0.2 - 0.3) is not a win.
    wins, losses = int(np.sum(oriented > 1e-12)), int(np.sum(oriented < -1e-12))
    if kind == "binary":
        b = int(np.sum((candidate > 0.5) & (baseline <= 0.5)))
        c = int(np.sum((candidate <= 0.5) & (baseline > 0.5)))
        p_value, test = mcnemar_exact(b, c), "mcnemar-exact"
    else:
        p_value, test = sign_flip_test(diffs, n_resamples, seed), "sign-flip-permutation"
    interval = paired_bootstrap(diffs, n_resamples, 1.0 - alpha, seed)
    delta = float(diffs.mean())
    verdict: Verdict = "no significant difference"
    if p_value < alpha and delta != 0:
        if higher_is_better is None:
            verdict = "higher" if delta > 0 else "lower"
        else:
            verdict = "better" if delta * _direction(higher_is_better) > 0 else "worse"
    return Comparison(
        verdict=verdict,
        delta=delta,
        ci=(interval.low, interval.high),
        p_value=p_value,
        wins=wins,
        ties=n - wins - losses,
        losses=losses,
        n=n,
        candidate_mean=float(candidate.mean()),
        baseline_mean=float(baseline.mean()),
        kind=kind,
        test=test,
        alpha=alpha,
        higher_is_better=higher_is_better,
    )


@dataclass(frozen=True)
class NonInferiority:
    """Is the candidate at most ``margin`` worse than the baseline, with confidence ``1 - alpha``?"""

    passed: bool
    lower_bound: float
    """One-sided ``1 - alpha`` lower bound of the improvement (candidate − baseline, oriented)."""
    margin: float
    p_value: float
    """Bootstrap p-value of H0 "improvement ≤ −margin"."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def non_inferiority(
    candidate_scores: Sequence[float],
    baseline_scores: Sequence[float],
    margin: float,
    alpha: float = 0.05,
    *,
    higher_is_better: bool | None = True,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> NonInferiority:
    """One-sided test of H0 "candidate worse by at least ``margin``" against H1 "worse by less".

    Passes when the one-sided lower confidence bound of the oriented difference exceeds ``-margin``.
    """
    diffs = (np.asarray(candidate_scores, float) - np.asarray(baseline_scores, float)) * _direction(
        higher_is_better
    )
    if diffs.size == 0:
        return NonInferiority(False, float("nan"), margin, 1.0)
    if np.all(diffs == diffs[0]):
        bound = float(diffs[0])
        passed = bound > -margin
        return NonInferiority(passed, bound, margin, 0.0 if passed else 1.0)
    means = _resample_means(diffs, n_resamples, seed)
    bound = float(np.quantile(means, alpha))
    p_value = float((np.sum(means <= -margin) + 1) / (len(means) + 1))
    return NonInferiority(bound > -margin, bound, margin, p_value)


def rate_difference(
    candidate_outcomes: Sequence[bool],
    baseline_outcomes: Sequence[bool],
    alpha: float = 0.05,
    *,
    higher_is_better: bool | None = False,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Paired difference of two rates (e.g. attack success on the same probes) with McNemar's test.

    ``higher_is_better`` defaults to False: for attack-success or leak rates, lower is better.
    """
    return compare_paired(
        [float(x) for x in candidate_outcomes],
        [float(x) for x in baseline_outcomes],
        "binary",
        alpha,
        higher_is_better=higher_is_better,
        n_resamples=n_resamples,
        seed=seed,
    )


def win_tie_loss_test(wins: int, ties: int, losses: int, alpha: float = 0.05) -> Comparison:
    """Verdict from pairwise judgements: exact binomial (sign) test on wins against losses."""
    n = wins + ties + losses
    p_value = mcnemar_exact(wins, losses)
    win_rate = (wins + 0.5 * ties) / n if n else float("nan")
    outcomes = [1.0] * wins + [0.5] * ties + [0.0] * losses
    interval = bootstrap_ci(outcomes, confidence=1 - alpha) if n else Interval(*(float("nan"),) * 3)
    verdict: Verdict = "no significant difference"
    if p_value < alpha and wins != losses:
        verdict = "better" if wins > losses else "worse"
    return Comparison(
        verdict=verdict,
        delta=win_rate - 0.5 if n else float("nan"),
        ci=(interval.low - 0.5, interval.high - 0.5),
        p_value=p_value,
        wins=wins,
        ties=ties,
        losses=losses,
        n=n,
        candidate_mean=win_rate,
        baseline_mean=0.5,
        kind="binary",
        test="sign-test",
        alpha=alpha,
    )
