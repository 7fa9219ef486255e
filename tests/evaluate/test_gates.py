"""Gate rules on synthetic scores: each rule passes a good candidate and fails a worse one."""

from __future__ import annotations

import numpy as np
import pytest

from tuneloop.config.evaluate import GateRule
from tuneloop.evaluate.gates import ScopedRule, evaluate_gates
from tuneloop.evaluate.generation import Generation, GenerationSettings
from tuneloop.evaluate.items import EvalItem
from tuneloop.evaluate.metrics import MetricOutput, MetricValue, ScoreTable
from tuneloop.evaluate.planning import CandidatePlan, EvaluationPlan
from tuneloop.evaluate.runner import EvalRun, ModelRun, _compare_column
from tuneloop.evaluate.suites import ItemsSource, LoadedSuite, Suite

COLUMNS = {  # name -> (group, higher_is_better)
    "accuracy": ("task", True),
    "refusal_rate": ("safety", False),
    "length": ("efficiency", None),
    "judge_score": ("judge", True),
}


def table(scores: dict[str, list[float | None]]) -> ScoreTable:
    result = ScoreTable()
    for name, values in scores.items():
        group, direction = COLUMNS[name]
        binary = all(v in (0.0, 1.0, None) for v in values) and name != "length"
        result.columns[name] = MetricOutput(name, name, group, direction)
        result.values[name] = [
            MetricValue(v, binary) if v is not None else MetricValue.failed("judge failed") for v in values
        ]
    return result


def synthetic_run(
    candidate: dict[str, list], baselines: dict[str, dict[str, list]], *, alpha: float = 0.05
) -> EvalRun:
    n = len(next(iter(candidate.values())))
    items = [EvalItem(str(i), [{"role": "user", "content": "q"}], "r") for i in range(n)]
    suite = Suite(name="s", items=ItemsSource(file="x.jsonl"), metrics=["json_valid"])
    loaded = LoadedSuite(
        suite, suite_path := __import__("pathlib").Path("s.yaml"), suite_path.parent, "s.yaml"
    )
    plan = CandidatePlan("cand", baselines={role: role + "-model" for role in baselines})
    gens = [Generation("x", 1, 1, 0.1, "stop")] * n
    models = {"cand": ModelRun("cand", gens, table(candidate), 0.0)}
    models |= {
        role + "-model": ModelRun(role + "-model", gens, table(scores), 0.0)
        for role, scores in baselines.items()
    }
    comparisons = [
        _compare_column(
            models["cand"],
            models[role + "-model"],
            role,
            name,
            COLUMNS[name][0],
            COLUMNS[name][1],
            alpha,
            2000,
            0.1,
        )
        for role in baselines
        for name in candidate
    ]
    return EvalRun(loaded, items, EvaluationPlan([plan]), models, comparisons, alpha, GenerationSettings())


def gate(run: EvalRun, origin: str = "suite", **rule) -> list[tuple[str, str]]:
    results = evaluate_gates(run, [ScopedRule(GateRule(**rule), origin)], None)
    return [(r.status, r.reason) for r in results]


def status(run: EvalRun, **rule) -> list[str]:
    return [s for s, _ in gate(run, **rule)]


def test_absolute_rules() -> None:
    run = synthetic_run({"accuracy": [1.0] * 8 + [0.0] * 2}, {})
    assert status(run, metric="accuracy", rule="at_least", value=0.8) == ["passed"]
    assert status(run, metric="accuracy", rule="at_least", value=0.9) == ["failed"]
    assert status(run, metric="accuracy", rule="at_most", value=0.9) == ["passed"]


def test_better_than_needs_significance() -> None:
    clear = synthetic_run({"accuracy": [1.0] * 10}, {"foundation": {"accuracy": [0.0] * 8 + [1.0] * 2}})
    assert status(clear, metric="accuracy", rule="better_than", baseline="foundation") == ["passed"]
    slight = synthetic_run({"accuracy": [1.0] * 10}, {"foundation": {"accuracy": [0.0] * 2 + [1.0] * 8}})
    assert status(slight, metric="accuracy", rule="better_than", baseline="foundation") == ["failed"]
    # A looser level turns the same data into a pass only when p is below it.
    p = slight.comparisons[0].comparison.p_value
    assert status(
        slight, metric="accuracy", rule="better_than", baseline="foundation", alpha=min(0.99, p + 0.01)
    ) == ["passed"]


def test_non_inferiority_with_margin() -> None:
    rng = np.random.default_rng(0)
    production = (rng.random(400) < 0.8).astype(float)
    same = production.copy()
    flip = rng.choice(400, 20, replace=False)
    same[flip] = 1 - same[flip]  # as many wins as losses on average: equal accuracy
    equal = synthetic_run({"accuracy": list(same)}, {"production": {"accuracy": list(production)}})
    rule = {"metric": "accuracy", "rule": "not_worse_than", "baseline": "production", "margin": 0.05}
    assert status(equal, **rule) == ["passed"]
    worse = production.copy()
    worse[np.flatnonzero(production == 1)[:60]] = 0.0  # 15 points worse
    assert status(
        synthetic_run({"accuracy": list(worse)}, {"production": {"accuracy": list(production)}}), **rule
    ) == ["failed"]


def test_group_rule_on_safety_metrics_respects_direction() -> None:
    more_refusals = synthetic_run(
        {"refusal_rate": [1.0] * 9 + [0.0] * 11}, {"foundation": {"refusal_rate": [0.0] * 20}}
    )
    assert status(more_refusals, group="safety", rule="no_significant_regression", baseline="foundation") == [
        "failed"
    ]
    fewer = synthetic_run(
        {"refusal_rate": [0.0] * 20}, {"foundation": {"refusal_rate": [1.0] * 9 + [0.0] * 11}}
    )
    assert status(fewer, group="safety", rule="no_significant_regression", baseline="foundation") == [
        "passed"
    ]
    assert status(fewer, metric="refusal_rate", rule="better_than", baseline="foundation") == ["passed"]


def test_increase_and_decrease_rules_ignore_direction() -> None:
    longer = synthetic_run(
        {"length": [float(40 + i % 3) for i in range(30)]}, {"foundation": {"length": [20.0] * 30}}
    )
    assert status(longer, metric="length", rule="no_significant_increase", baseline="foundation") == [
        "failed"
    ]
    assert status(longer, metric="length", rule="no_significant_decrease", baseline="foundation") == [
        "passed"
    ]
    ((state, reason),) = gate(longer, metric="length", rule="better_than", baseline="foundation")
    assert state == "failed" and "no good direction" in reason


def test_missing_baseline_is_skipped_unless_required() -> None:
    run = synthetic_run({"accuracy": [1.0] * 10}, {"foundation": {"accuracy": [0.0] * 10}})
    assert status(run, metric="accuracy", rule="better_than", baseline="production") == ["skipped"]
    assert status(run, metric="accuracy", rule="better_than", baseline="production", required=True) == [
        "failed"
    ]


def test_unscorable_items_fail_gates() -> None:
    judged = [1.0] * 7 + [None] * 3  # three judge failures out of ten
    run = synthetic_run({"judge_score": judged}, {"foundation": {"judge_score": [0.0] * 10}})
    ((state, reason),) = gate(
        run, metric="judge_score", rule="no_significant_regression", baseline="foundation"
    )
    assert state == "failed" and "could not be scored" in reason
    assert status(
        run,
        metric="judge_score",
        rule="no_significant_regression",
        baseline="foundation",
        max_failure_rate=0.5,
    ) == ["passed"]


def test_glob_and_unmatched_metrics() -> None:
    run = synthetic_run({"accuracy": [1.0] * 10, "judge_score": [1.0] * 10}, {})
    assert status(run, metric="*", rule="at_least", value=0.5) == ["passed", "passed"]
    assert status(run, metric="nothing*", rule="at_least", value=0.5) == ["failed"]  # a suite gate must match
    assert [s for s, _ in gate(run, origin="project", metric="nothing*", rule="at_least", value=0.5)] == [
        "skipped"
    ]


def test_gate_rule_validation() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        GateRule(rule="at_least", value=1)
    with pytest.raises(ValueError, match="margin"):
        GateRule(metric="a", rule="better_than", margin=0.1)
    assert (
        "production − 0.01"
        in GateRule(metric="a", rule="not_worse_than", baseline="production", margin=0.01).describe()
    )


def _with_primary(run: EvalRun, fit_target: float | None, reference: str = "s.yaml") -> EvalRun:
    """The run's suite with ``accuracy`` as its primary metric and a fit target."""
    from pathlib import Path

    suite = Suite(
        name="s",
        items=ItemsSource(file="x.jsonl"),
        metrics=[{"name": "exact_match", "as": "accuracy"}],
        primary_metric="accuracy",
        fit_target=fit_target,
    )
    run.suite = LoadedSuite(suite, Path("s.yaml"), Path("."), reference)
    return run


def test_better_than_reports_the_absolute_level_against_the_fit_target() -> None:
    # 8 of 80 right against 0 of 80: significantly better (McNemar p = 0.0078), yet useless at 0.1.
    low = _with_primary(
        synthetic_run({"accuracy": [1.0] * 8 + [0.0] * 72}, {"foundation": {"accuracy": [0.0] * 80}}), 0.9
    )
    rule = GateRule(metric="accuracy", rule="better_than", baseline="foundation")
    (result,) = evaluate_gates(low, [ScopedRule(rule, "suite")], None)
    assert result.status == "passed"  # a relative gate: it passes, but says how far from useful
    assert result.reason.startswith("significantly better than foundation (0.1 vs 0;")
    assert "but 0.1 is far below the fit target 0.9 (0.8 short): not yet useful" in result.reason
    assert result.numbers["level"] == pytest.approx(0.1) and result.numbers["far_below_fit_target"] is True
    assert result.numbers["fit_target_gap"] == pytest.approx(0.8)
    # Close to the target: the gap is stated without "far below"; at the target, it says so.
    near = _with_primary(
        synthetic_run({"accuracy": [1.0] * 68 + [0.0] * 12}, {"foundation": {"accuracy": [0.0] * 80}}), 0.9
    )
    (result,) = evaluate_gates(near, [ScopedRule(rule, "suite")], None)
    assert "0.85 is 0.05 short of the fit target 0.9" in result.reason and "far below" not in result.reason
    done = _with_primary(
        synthetic_run({"accuracy": [1.0] * 80}, {"foundation": {"accuracy": [0.0] * 80}}), 0.9
    )
    (result,) = evaluate_gates(done, [ScopedRule(rule, "suite")], None)
    assert "reaches the fit target 0.9" in result.reason
    # Without a fit target (no project, none in the suite) the level is still reported.
    (result,) = evaluate_gates(_with_primary(low, None), [ScopedRule(rule, "suite")], None)
    assert "(0.1 vs 0;" in result.reason and "fit target" not in result.reason


def test_primary_names_the_suites_primary_metric_and_skips_builtin_suites() -> None:
    from types import SimpleNamespace

    from tuneloop.evaluate.gates import gates_for

    run = _with_primary(
        synthetic_run({"accuracy": [1.0] * 6 + [0.0] * 4, "judge_score": [1.0] * 10}, {}), 0.9
    )
    results = evaluate_gates(
        run, [ScopedRule(GateRule(metric="primary", rule="at_least", value=0.8), "project")], None
    )
    assert [(r.metric, r.status) for r in results] == [("accuracy", "failed")]
    assert results[0].reason == "accuracy = 0.6 not ≥ 0.8"
    minimum = GateRule(metric="primary", rule="at_least", value=0.8)
    project = SimpleNamespace(config=SimpleNamespace(eval=SimpleNamespace(gates=[minimum], fit_target=0.9)))
    assert [s.rule for s in gates_for(run.suite, project)] == [minimum]
    builtin = _with_primary(run, None, reference="builtin:general").suite
    assert gates_for(builtin, project) == []  # the forgetting suite is judged against the foundation
    one_metric = _with_primary(run, None, reference="metric:accuracy").suite  # `eval score --metric`
    assert gates_for(one_metric, project) == []
