"""Calibration and power of the embedding drift tests on synthetic samples (no model needed).

Same-distribution windows must raise false alarms at no more than the configured level over repeated
trials; a real shift must be found with high power at the window sizes stated here.
"""

from __future__ import annotations

import numpy as np
import pytest

from tuneloop.monitor.two_sample import classifier_test, mmd_test

DIM = 16


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _samples(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Reference and production windows of normalised vectors; ``shift`` moves production's mean."""
    reference = _unit(rng.normal(size=(n, DIM)) + 2.0)
    moved = np.zeros(DIM)
    moved[:4] = shift
    return reference, _unit(rng.normal(size=(n, DIM)) + 2.0 + moved)


@pytest.mark.parametrize("test", [mmd_test, classifier_test], ids=["mmd", "classifier"])
def test_false_alarm_rate_stays_within_the_level(test) -> None:
    rng = np.random.default_rng(7)
    trials = 100
    alarms = 0
    for trial in range(trials):
        reference, production = _samples(rng, 80, shift=0.0)
        alarms += test(reference, production, alpha=0.05, seed=trial).drift
    # At a true level of 5%, 100 trials give more than 11 alarms with probability < 1%.
    assert alarms <= 11, f"{alarms} false alarms in {trials} same-distribution trials"


@pytest.mark.parametrize("test", [mmd_test, classifier_test], ids=["mmd", "classifier"])
def test_a_real_shift_is_found_with_high_power(test) -> None:
    rng = np.random.default_rng(11)
    trials = 20
    found = 0
    for trial in range(trials):
        # A shift of 0.3 in 4 of 16 dimensions, 250 inputs per window: AUC about 0.6.
        reference, production = _samples(rng, 250, shift=0.3)
        found += test(reference, production, alpha=0.05, seed=trial).drift
    assert found >= 15, f"only {found} of {trials} shifted windows detected"


def test_results_name_method_sizes_statistic_threshold_and_p_value() -> None:
    rng = np.random.default_rng(3)
    reference, production = _samples(rng, 300, shift=1.0)
    result = classifier_test(reference, production)
    document = result.to_dict()
    assert document["method"] == "domain_classifier" and document["statistic_name"] == "roc_auc"
    assert document["n_reference"] == 300 and document["n_production"] == 300
    assert document["null"] == "permutation (200)"
    assert document["statistic"] > document["threshold"] and document["drift"] is True
    small = mmd_test(reference[:50], production[:50], permutations=99)
    assert small.null == "permutation (99)" and 0 < small.p_value <= 1
    assert small.statistic > small.threshold


def test_large_windows_are_subsampled_to_bound_the_cost() -> None:
    rng = np.random.default_rng(5)
    reference, production = _samples(rng, 1500, shift=0.0)
    result = mmd_test(reference, production, max_per_side=400, permutations=20)
    assert (result.n_reference, result.n_production) == (400, 400)


def test_too_few_vectors_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 5 vectors per side"):
        mmd_test(np.zeros((3, DIM)), np.zeros((10, DIM)))
