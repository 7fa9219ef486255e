"""The red-team report: rates per category, strategy and harm area, deltas, the gate, worst examples.

:func:`analyse` turns outcomes into the report's data (saved as JSON); :func:`render_html` draws the
person's version with :mod:`tuneloop.reports`: a category × strategy heat map of failure rates, a
per-category table with bootstrap intervals and the paired delta against the baseline (p-value and
verdict), detector uncertainty per category, and the worst examples with both models' answers.
"""

from __future__ import annotations

from typing import Any

from tuneloop.config.redteam import RedteamSection
from tuneloop.evaluate.gates import GateResult
from tuneloop.evaluate.refusal import MEASURED_QUALITY
from tuneloop.redteam.judge import agreement
from tuneloop.redteam.probes import ALL_CATEGORIES
from tuneloop.redteam.rates import Outcome, compare, evaluate_gate, gate_document, group, summarise_rate
from tuneloop.reports import Report, bar_chart, heatmap

WORST_EXAMPLES = 25


def analyse(
    candidate: list[Outcome],
    baseline: list[Outcome] | None,
    config: RedteamSection,
    *,
    model: str = "candidate",
    baseline_model: str | None = None,
) -> tuple[dict[str, Any], list[GateResult]]:
    """The report's data and the gate's decisions, one per category (``model`` and
    ``baseline_model`` name the two models in them)."""
    seed, alpha = config.seed, config.gate.alpha
    categories: dict[str, Any] = {}
    rates, deltas = {}, {}
    base_groups = group(baseline, lambda o: o.category) if baseline is not None else {}
    for category, outcomes in sorted(group(candidate, lambda o: o.category).items()):
        rates[category] = summarise_rate(outcomes, seed)
        entry: dict[str, Any] = {
            "description": ALL_CATEGORIES.get(category, "project probes"),
            "expected": sorted({o.expected for o in outcomes}),
            "candidate": rates[category].to_dict(),
            "harm_areas": {
                a: summarise_rate(o, seed).to_dict() for a, o in sorted(group(outcomes, _area).items())
            },
            "judge_agreement": agreement(outcomes),
        }
        if category in base_groups:
            deltas[category] = compare(outcomes, base_groups[category], alpha, seed)
            entry["baseline"] = summarise_rate(base_groups[category], seed).to_dict()
            entry["delta"] = deltas[category].to_dict()
        categories[category] = entry
    gates = evaluate_gate(rates, deltas, config.gate, candidate=model, baseline=baseline_model)
    data = {
        "categories": categories,
        "cells": _cells(candidate, baseline, alpha, seed),
        "strategies": {
            s: summarise_rate(o, seed).to_dict()
            for s, o in sorted(group(candidate, lambda o: o.strategy).items())
        },
        "gate": gate_document(gates),
        "worst": worst_examples(candidate, baseline),
        "detector_quality": {"refusal": MEASURED_QUALITY},
        "uncertain": sum(o.uncertain for o in candidate),
    }
    return data, gates


def _area(outcome: Outcome) -> str:
    return outcome.harm_area or "-"


def _cells(
    candidate: list[Outcome], baseline: list[Outcome] | None, alpha: float, seed: int
) -> dict[str, Any]:
    """Category × strategy: the candidate's rate and, with a baseline, the paired delta."""
    base = group(baseline, lambda o: f"{o.category}\0{o.strategy}") if baseline is not None else {}
    cells: dict[str, dict[str, Any]] = {}
    for key, outcomes in sorted(group(candidate, lambda o: f"{o.category}\0{o.strategy}").items()):
        category, strategy = key.split("\0")
        cell: dict[str, Any] = {"candidate": summarise_rate(outcomes, seed).to_dict()}
        if key in base:
            cell["baseline"] = summarise_rate(base[key], seed).to_dict()
            cell["delta"] = compare(outcomes, base[key], alpha, seed).to_dict()
        cells.setdefault(category, {})[strategy] = cell
    return cells


def worst_examples(
    candidate: list[Outcome], baseline: list[Outcome] | None, limit: int = WORST_EXAMPLES
) -> list[dict[str, Any]]:
    """Failures, those the baseline did not have first, then by detector score."""
    by_id = {o.probe_id: o for o in baseline or []}
    failures = [o for o in candidate if o.failed]

    def rank(o: Outcome) -> tuple[int, float]:
        regressed = o.probe_id in by_id and not by_id[o.probe_id].failed
        return (0 if regressed else 1, -o.score)

    rows = []
    for outcome in sorted(failures, key=rank)[:limit]:
        other = by_id.get(outcome.probe_id)
        rows.append({
            "probe_id": outcome.probe_id, "category": outcome.category, "strategy": outcome.strategy,
            "harm_area": outcome.harm_area, "prompt": outcome.prompt, "answer": outcome.answer,
            "score": outcome.score, "evidence": outcome.evidence, "uncertain": outcome.uncertain,
            "baseline_failed": None if other is None else other.failed,
            "baseline_answer": None if other is None else other.answer,
        })  # fmt: skip
    return rows


def _pct(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.1%}"


def _ci(rate: dict[str, Any]) -> str:
    return f"{_pct(rate['rate'])} [{_pct(rate['ci_low'])}, {_pct(rate['ci_high'])}]"


def render_html(data: dict[str, Any]) -> str:
    """The self-contained HTML report."""
    verdict = "PASS" if data["gate"]["passed"] else "FAIL"
    report = Report(
        f"Red-team report: {data['model']}",
        f"baseline: {data.get('baseline') or 'none'} · {data['probe_count']} probes · gate {verdict}",
    )
    report.key_values([
        ("model", data["model"]), ("baseline", data.get("baseline") or "none (no comparison)"),
        ("gate", verdict), ("probes", data["probe_count"]), ("strategies", ", ".join(data["settings"]["strategies"])),
        ("uncertain verdicts", data["uncertain"]),
    ])  # fmt: skip
    for note in data.get("notes", []):
        report.paragraph(f"Note: {note}", "muted")
    _heatmap(report, data)
    _category_table(report, data)
    _gate_section(report, data)
    _strategy_section(report, data)
    _worst_section(report, data)
    quality = data["detector_quality"]["refusal"]
    report.heading("Detectors")
    judged = {c: e["judge_agreement"] for c, e in data["categories"].items() if e.get("judge_agreement")}
    if judged:
        report.table(["category", "judged by the LLM judge", "agrees with the detector"],
                     [[c, a["judged"], f"{a['rate']:.0%}"] for c, a in judged.items()])  # fmt: skip
    report.paragraph(
        f"Refusal detector measured on {quality['n']} hand-labelled real model outputs ({quality['set']}): "
        f"precision {quality['precision']:.3f}, recall {quality['recall']:.3f}. Verdicts with a score within "
        f"±{quality['uncertain_band']} of the threshold are counted as uncertain above; marker, leak and "
        "memorisation detectors are exact string / overlap tests (near-verbatim overlaps near the threshold "
        "are flagged uncertain)."
    )
    return report.render()


def _heatmap(report: Report, data: dict[str, Any]) -> None:
    cells = data["cells"]
    categories = sorted(cells)
    strategies = sorted({s for c in cells.values() for s in c}, key=lambda s: (s != "none", s))
    values = [
        [cells[c][s]["candidate"]["rate"] if s in cells[c] else None for s in strategies] for c in categories
    ]
    report.heading("Failure rate by category and strategy")
    report.paragraph(
        "Share of probes where the model failed (attack success, benign refusal, leak ...); grey: not run.",
        "muted",
    )
    report.raw(heatmap(categories, strategies, values, title="candidate failure rate"))
    if any("delta" in cell for c in cells.values() for cell in c.values()):
        deltas = [[cells[c][s]["delta"]["delta"] if s in cells[c] and "delta" in cells[c][s] else None
                   for s in strategies] for c in categories]  # fmt: skip
        report.raw(heatmap(categories, strategies, deltas, title="change vs baseline (red: worse)", low=0.0,
                           high=0.5, value_format="{:+.0%}"))  # fmt: skip


def _category_table(report: Report, data: dict[str, Any]) -> None:
    report.heading("Categories")
    rows, classes = [], []
    for category, entry in data["categories"].items():
        delta = entry.get("delta")
        rows.append([
            category, ", ".join(entry["expected"]), entry["candidate"]["n"], _ci(entry["candidate"]),
            _ci(entry["baseline"]) if "baseline" in entry else "–",
            f"{delta['delta']:+.1%} [{delta['ci_low']:+.1%}, {delta['ci_high']:+.1%}]" if delta else "–",
            f"{delta['p_value']:.3g}" if delta else "–", delta["verdict"] if delta else "no baseline",
            entry["candidate"]["uncertain"],
        ])  # fmt: skip
        classes.append("fail" if delta and delta["verdict"] == "worse" else "")
    report.table(["category", "expected", "probes", "failure rate [95% CI]", "baseline", "delta [CI]",
                  "McNemar p", "verdict", "uncertain"], rows, row_classes=classes)  # fmt: skip
    for category, entry in data["categories"].items():
        areas = entry["harm_areas"]
        if len(areas) > 1:
            report.details(
                f"{category} by harm area", "\n".join(f"{a}: {_ci(r)} (n={r['n']})" for a, r in areas.items())
            )


def _gate_section(report: Report, data: dict[str, Any]) -> None:
    gate = data["gate"]
    report.heading(f"Gate: {'pass' if gate['passed'] else 'fail'}")
    report.table(
        ["category", "result", "reason"],
        [[c["category"], ("pass" if c["passed"] else "fail") + ("" if c["gated"] else " (report only)"), c["reason"]]
         for c in gate["categories"]],
    )  # fmt: skip


def _strategy_section(report: Report, data: dict[str, Any]) -> None:
    strategies = data["strategies"]
    if len(strategies) <= 1:
        return
    report.heading("Strategies")
    names = sorted(strategies, key=lambda s: (s != "none", s))
    report.raw(
        bar_chart(
            names,
            [strategies[s]["rate"] for s in names],
            title="failure rate by strategy",
            value_format="{:.0%}",
        )
    )


def _worst_section(report: Report, data: dict[str, Any]) -> None:
    worst = data["worst"]
    report.heading(f"Worst examples ({len(worst)})")
    if not worst:
        report.paragraph("No failures.")
        return
    rows = [[w["category"], w["strategy"], w["prompt"][:300], w["answer"][:500],
             "–" if w["baseline_answer"] is None else w["baseline_answer"][:500],
             f"{w['score']:.2f}" + (" uncertain" if w["uncertain"] else ""), w["evidence"] or ""]
            for w in worst]  # fmt: skip
    report.table(
        ["category", "strategy", "prompt", "model's answer", "baseline's answer", "score", "evidence"], rows
    )
