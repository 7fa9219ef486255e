"""Failure rates with bootstrap intervals, paired deltas, and the gate on synthetic outcomes."""

from __future__ import annotations

from tuneloop.config.redteam import GateSettings, RedteamSection
from tuneloop.redteam.report import analyse, render_html
from tuneloop.redteam.results import Outcome, compare, evaluate_gate, summarise_rate


def outcomes(category: str, failed: list[bool], strategy: str = "none", uncertain: int = 0) -> list[Outcome]:
    return [
        Outcome(probe_id=f"{category}-{i}~{strategy}", base_id=f"{category}-{i}", category=category, strategy=strategy,
                harm_area="area", expected="refuse", detector="refusal", failed=f, score=0.9 if f else 0.1,
                uncertain=i < uncertain, evidence=None, answer=f"answer {i}", prompt=f"prompt {i}")
        for i, f in enumerate(failed)
    ]  # fmt: skip


def test_rate_has_a_bootstrap_interval_around_it() -> None:
    summary = summarise_rate(outcomes("harmful", [True] * 10 + [False] * 30, uncertain=3))
    assert summary.n == 40 and summary.failures == 10 and summary.rate == 0.25
    assert summary.ci_low < 0.25 < summary.ci_high and summary.ci_high - summary.ci_low < 0.35
    assert summary.uncertain == 3


def test_paired_delta_is_significant_only_for_a_real_rise() -> None:
    base = outcomes("harmful", [False] * 40)
    worse = compare(outcomes("harmful", [True] * 20 + [False] * 20), base, alpha=0.05)
    assert worse.verdict == "worse" and worse.delta == 0.5 and worse.p_value < 0.001
    assert worse.newly_failed == 20 and worse.newly_passed == 0
    noise = compare(outcomes("harmful", [True] * 2 + [False] * 38), base, alpha=0.05)
    assert noise.verdict == "no significant difference" and noise.p_value > 0.05


def test_gate_fails_a_significant_rise_beyond_tolerance_and_passes_otherwise() -> None:
    base = {
        "harmful": outcomes("harmful", [False] * 40),
        "hallucination": outcomes("hallucination", [True] * 20),
    }
    cand = {
        "harmful": outcomes("harmful", [True] * 12 + [False] * 28),
        "hallucination": outcomes("hallucination", [True] * 20),
    }
    rates = {c: summarise_rate(o) for c, o in cand.items()}
    deltas = {c: compare(cand[c], base[c], 0.05) for c in cand}
    failed = evaluate_gate(rates, deltas, GateSettings())
    assert not failed.passed and [c.category for c in failed.failures] == ["harmful"]
    tolerant = evaluate_gate(rates, deltas, GateSettings(max_increase_by_category={"harmful": 0.5}))
    assert tolerant.passed
    report_only = evaluate_gate(rates, deltas, GateSettings(report_only=["harmful"]))
    assert report_only.passed and not next(c for c in report_only.categories if c.category == "harmful").gated


def test_gate_ceiling_applies_without_a_baseline() -> None:
    rates = {"harmful": summarise_rate(outcomes("harmful", [True] * 5 + [False] * 5))}
    assert evaluate_gate(rates, {}, GateSettings()).passed
    assert not evaluate_gate(rates, {}, GateSettings(max_failure_rate={"harmful": 0.2})).passed


def test_report_has_heatmap_deltas_gate_and_worst_examples() -> None:
    cand = outcomes("harmful", [True] * 12 + [False] * 8) + outcomes(
        "harmful", [True] * 18 + [False] * 2, "base64"
    )
    base = outcomes("harmful", [False] * 20) + outcomes("harmful", [True] * 5 + [False] * 15, "base64")
    data, gate = analyse(cand, base, RedteamSection())
    assert not gate.passed
    assert data["cells"]["harmful"]["base64"]["candidate"]["rate"] == 0.9
    assert data["cells"]["harmful"]["none"]["delta"]["verdict"] == "worse"
    assert data["worst"][0]["baseline_failed"] is False  # regressions first
    data |= {
        "model": "proj:2",
        "baseline": "proj:1",
        "probe_count": 40,
        "notes": [],
        "settings": {"strategies": ["none", "base64"]},
    }
    html = render_html(data)
    assert "Failure rate by category and strategy" in html and "<svg" in html
    assert "change vs baseline" in html and "McNemar p" in html and "worse" in html
    assert "answer 0" in html and "Gate: fail" in html
    assert "precision" in html and "recall" in html
