"""Text descriptors name how production moved; the state machine needs drift to persist."""

from __future__ import annotations

import numpy as np
import pytest

from tuneloop.monitor.descriptors import (
    drifting_descriptors,
    input_descriptors,
    language_of,
    output_descriptors,
)
from tuneloop.monitor.drift_state import DriftState, advance


def _billing(numbers: range) -> list[str]:
    return [
        f"my invoice number {i} was charged twice this month, please refund the extra charge" for i in numbers
    ]


BILLING = _billing(range(40))
SHIPPING = [
    f"the parcel with tracking code {i} never arrived at the warehouse in the harbour" for i in range(40)
]
GERMAN = [f"die Rechnung {i} ist nicht korrekt und ich möchte mit dem Support sprechen" for i in range(40)]


def _by_name(results):
    return {r.name: r for r in results}


def test_the_same_inputs_do_not_drift() -> None:
    results = input_descriptors(BILLING, _billing(range(100, 140)))
    assert drifting_descriptors(results, alpha=0.05) == []


def test_a_new_language_and_new_words_are_named() -> None:
    results = _by_name(input_descriptors(BILLING, GERMAN))
    assert results["language"].reference == {"en": 1.0} and results["language"].production == {"de": 1.0}
    assert results["language"].p_value < 1e-6
    assert results["out_of_vocabulary"].production > 0.5 > results["out_of_vocabulary"].reference
    moved = {r.name for r in drifting_descriptors(list(results.values()), alpha=0.05)}
    assert {"language", "out_of_vocabulary"} <= moved


def test_category_mix_is_compared_when_both_sides_have_tags() -> None:
    results = _by_name(
        input_descriptors(
            BILLING + SHIPPING,
            BILLING + SHIPPING,
            reference_categories=["billing"] * 40 + ["shipping"] * 40,
            production_categories=["billing"] * 70 + ["shipping"] * 10,
        )
    )
    assert results["category"].test == "chi_square" and results["category"].p_value < 0.001
    assert "category" not in _by_name(input_descriptors(BILLING, SHIPPING))


def test_language_of_scripts_and_latin_languages() -> None:
    assert language_of("Где мой заказ?") == "cyrillic"
    assert language_of("注文はどこですか") == "japanese"
    assert language_of("where is my order and the invoice") == "en"
    assert language_of("où est ma commande pour le client") == "fr"
    assert language_of("12345 !!!") == "none"


def test_output_drift_counts_refusals_and_broken_json() -> None:
    reference = ['{"category": "billing", "reply": "Refund issued."}'] * 30
    production = ["I'm sorry, but I can't help with that request."] * 20 + reference[:10]
    results = _by_name(output_descriptors(reference, production))
    assert results["refusal_rate"].reference == 0.0 and results["refusal_rate"].production == pytest.approx(
        2 / 3
    )
    assert results["refusal_rate"].p_value < 1e-6
    assert results["format_valid_json"].production == pytest.approx(1 / 3)
    assert "format_valid_json" not in _by_name(output_descriptors(["plain words"] * 10, ["more words"] * 10))


def test_small_samples_are_not_tested() -> None:
    result = input_descriptors(BILLING[:3], SHIPPING[:3])[0]
    assert np.isnan(result.p_value)
    assert drifting_descriptors([result], alpha=0.05) == []


def _run(windows: list[bool], **kwargs) -> list[str]:
    state, seen = DriftState(), []
    for drifted in windows:
        state = advance(state, drifted, **kwargs)
        seen.append(state.state)
    return seen


def test_one_noisy_window_is_not_sustained_drift() -> None:
    assert _run([False, True, False, True, False]) == ["stable", "drifting", "stable", "drifting", "stable"]


def test_drift_is_sustained_after_three_windows_and_recovers_after_two_clean_ones() -> None:
    assert _run([True, True, True, True, False, True, False, False]) == [
        "drifting", "drifting", "sustained", "sustained", "recovering", "sustained", "recovering", "stable",
    ]  # fmt: skip
    assert _run([True], sustain=1) == ["sustained"]


def test_state_round_trips_through_its_stored_form() -> None:
    state = advance(advance(DriftState(), True), True)
    assert DriftState.from_dict(state.to_dict()) == state and state.windows == 2
    with pytest.raises(ValueError):
        advance(state, True, sustain=0)
