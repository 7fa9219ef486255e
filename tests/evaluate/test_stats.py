"""Paired statistics against scipy, hand-computed tables and simulated coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from tuneloop.evaluate.stats import (
    bootstrap_ci,
    compare_paired,
    mcnemar_exact,
    non_inferiority,
    paired_bootstrap,
    rate_difference,
    sign_flip_test,
    wilson_interval,
    win_tie_loss_test,
)


@pytest.mark.parametrize(
    "b,c", [(0, 0), (1, 0), (0, 5), (3, 3), (10, 2), (2, 10), (25, 12), (40, 60), (7, 0)]
)
def test_mcnemar_matches_scipy_exact_binomial(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)
    if b + c:
        assert mcnemar_exact(b, c, "greater") == pytest.approx(binomtest(b, b + c, 0.5, "greater").pvalue)
        assert mcnemar_exact(b, c, "less") == pytest.approx(binomtest(b, b + c, 0.5, "less").pvalue)


def test_mcnemar_hand_computed_tables() -> None:
    # 10 vs 2 discordant: P(X <= 2 | n=12) = (1 + 12 + 66) / 4096; two-sided doubles it.
    assert mcnemar_exact(10, 2) == pytest.approx(2 * 79 / 4096)
    # 5 vs 0: 2 * (1/32).
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    # 6 vs 0: 2 * (1/64) = 0.03125 < 0.05 - the smallest all-one-way table that is significant.
    assert mcnemar_exact(6, 0) == pytest.approx(0.03125)
    assert mcnemar_exact(3, 3) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_compare_paired_binary_uses_discordant_pairs_only() -> None:
    # 20 items both right, 10 both wrong, 8 only candidate right, 1 only baseline right.
    candidate = [1] * 20 + [0] * 10 + [1] * 8 + [0] * 1
    baseline = [1] * 20 + [0] * 10 + [0] * 8 + [1] * 1
    result = compare_paired(candidate, baseline, "binary", alpha=0.05)
    assert result.p_value == pytest.approx(binomtest(8, 9, 0.5).pvalue)
    assert (result.wins, result.ties, result.losses, result.n) == (8, 30, 1, 39)
    assert result.verdict == "better"
    assert result.delta == pytest.approx(7 / 39)
    assert result.ci[0] <= result.delta <= result.ci[1]


def test_compare_paired_verdicts_and_directions() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.1, 60)
    better = compare_paired(base + 0.05 + rng.normal(0, 0.01, 60), base)
    assert better.verdict == "better" and better.p_value < 0.01 and better.test == "sign-flip-permutation"
    worse = compare_paired(base - 0.05, base)
    assert worse.verdict == "worse"
    same = compare_paired(base + rng.normal(0, 0.05, 60), base)
    assert same.verdict == "no significant difference"
    # Lower is better (latency): a lower candidate is better.
    assert compare_paired(base - 0.05, base, higher_is_better=False).verdict == "better"
    # No direction (length): higher / lower.
    assert compare_paired(base + 0.05, base, higher_is_better=None).verdict == "higher"


def test_sign_flip_exact_small_case() -> None:
    # Five positive differences: only the all-plus pattern (and its mirror) is as extreme: 2/32.
    assert sign_flip_test([1, 1, 1, 1, 1]) == pytest.approx(2 / 32)
    assert sign_flip_test([1, 1, 1, 1, 1], alternative="greater") == pytest.approx(1 / 32)
    assert sign_flip_test([0, 0, 0]) == 1.0
    # Monte Carlo path (more than 16 non-zero differences) agrees with a large effect.
    assert sign_flip_test([1.0] * 30) < 0.001


def test_bootstrap_ci_covers_true_rate_about_95_percent() -> None:
    """Over 200 simulated datasets the 95% interval covers the true rate in ~95% of them."""
    rng = np.random.default_rng(1)
    true_rate, covered = 0.7, 0
    for trial in range(200):
        sample = rng.random(120) < true_rate
        _, low, high = bootstrap_ci(sample.astype(float), n_resamples=1000, seed=trial)
        covered += low <= true_rate <= high
    assert 0.90 <= covered / 200 <= 0.99


def test_paired_bootstrap_covers_true_mean_difference() -> None:
    rng = np.random.default_rng(2)
    true_delta, covered = 0.1, 0
    for trial in range(200):
        baseline = rng.normal(0.5, 0.2, 80)
        candidate = baseline + true_delta + rng.normal(0, 0.15, 80)
        _, low, high = paired_bootstrap(candidate - baseline, n_resamples=1000, seed=trial)
        covered += low <= true_delta <= high
    assert 0.90 <= covered / 200 <= 0.99


def test_bootstrap_edge_cases() -> None:
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    assert tuple(bootstrap_ci([1.0, 1.0, 1.0])) == (1.0, 1.0, 1.0)


def test_wilson_interval_hand_computed() -> None:
    rate, low, high = wilson_interval(8, 10)
    assert rate == 0.8
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    _, low0, high0 = wilson_interval(0, 20)
    assert low0 == 0.0 and 0.1 < high0 < 0.2


def test_non_inferiority_margin() -> None:
    baseline = [1.0] * 90 + [0.0] * 10
    same = list(baseline)
    same[0], same[95] = 0.0, 1.0  # one loss, one win: equal accuracy
    assert not non_inferiority(same, baseline, margin=0.0).passed  # margin 0 needs superiority
    assert non_inferiority(same, baseline, margin=0.05).passed
    much_worse = [0.0] * 30 + baseline[30:]
    result = non_inferiority(much_worse, baseline, margin=0.05)
    assert not result.passed and result.lower_bound < -0.05


def test_rate_difference_lower_is_better_by_default() -> None:
    baseline = [True] * 12 + [False] * 28
    candidate = [False] * 40
    result = rate_difference(candidate, baseline)
    assert result.verdict == "better" and result.delta == pytest.approx(-0.3)


def test_win_tie_loss_sign_test() -> None:
    result = win_tie_loss_test(15, 5, 2)
    assert result.p_value == pytest.approx(binomtest(15, 17, 0.5).pvalue)
    assert result.verdict == "better"
    assert win_tie_loss_test(3, 10, 3).verdict == "no significant difference"
