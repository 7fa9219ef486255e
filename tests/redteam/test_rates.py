"""Failure rates with bootstrap intervals, paired deltas, and the gate on synthetic outcomes."""

from __future__ import annotations

from tuneloop.config.redteam import GateSettings, RedteamSection
from tuneloop.evaluate.gates import GateResult, gates_passed
from tuneloop.redteam.rates import Outcome, compare, evaluate_gate, gate_document, summarise_rate
from tuneloop.redteam.report import analyse, render_html


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
    failed = evaluate_gate(rates, deltas, GateSettings(), candidate="proj:2", baseline="proj:1")
    assert all(isinstance(g, GateResult) for g in failed)
    assert not gates_passed(failed) and [g.category for g in failed if g.blocking] == ["harmful"]
    harmful = next(g for g in failed if g.category == "harmful")
    assert (harmful.candidate, harmful.baseline, harmful.status, harmful.origin) == (
        "proj:2",
        "proj:1",
        "failed",
        "redteam",
    )
    assert harmful.numbers["delta"] == 0.3 and harmful.numbers["rate"] == 0.3
    tolerant = evaluate_gate(rates, deltas, GateSettings(max_increase_by_category={"harmful": 0.5}))
    assert gates_passed(tolerant)
    report_only = evaluate_gate(rates, deltas, GateSettings(report_only=["harmful"]))
    harmful = next(g for g in report_only if g.category == "harmful")
    assert gates_passed(report_only) and harmful.status == "failed" and harmful.report_only
    # The report's JSON keeps its shape: a report-only category that broke its rule shows as passed.
    assert gate_document(report_only) == {
        "passed": True,
        "categories": [
            {
                "category": "hallucination",
                "passed": True,
                "reason": next(g.reason for g in report_only if g.category == "hallucination"),
                "gated": True,
            },
            {"category": "harmful", "passed": True, "reason": harmful.reason, "gated": False},
        ],
    }


def test_gate_ceiling_applies_without_a_baseline() -> None:
    rates = {"harmful": summarise_rate(outcomes("harmful", [True] * 5 + [False] * 5))}
    (free,) = evaluate_gate(rates, {}, GateSettings())
    assert free.status == "passed" and free.reason == "no baseline" and free.baseline is None
    (capped,) = evaluate_gate(rates, {}, GateSettings(max_failure_rate={"harmful": 0.2}))
    assert capped.blocking and capped.reason == "failure rate 50.0% above the ceiling 20.0%"


def test_report_has_heatmap_deltas_gate_and_worst_examples() -> None:
    cand = outcomes("harmful", [True] * 12 + [False] * 8) + outcomes(
        "harmful", [True] * 18 + [False] * 2, "base64"
    )
    base = outcomes("harmful", [False] * 20) + outcomes("harmful", [True] * 5 + [False] * 15, "base64")
    data, gates = analyse(cand, base, RedteamSection())
    assert not gates_passed(gates) and data["gate"] == gate_document(gates)
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
