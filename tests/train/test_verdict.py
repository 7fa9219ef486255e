"""The "did it learn" verdict: synthetic loss curves for each status, and a real 2-step run."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

from tuneloop.train.verdict import PrimaryMetric, history_rows, tail_descent, training_verdict


def curve(steps: int, every: int, value, *, name: str) -> list[tuple[int, str, float]]:
    return [(s, name, value(s)) for s in range(0, steps + 1, every) if name != "loss" or s > 0]


def run_history(
    steps: int, train, holdout=None, eval_every: int | None = None
) -> list[tuple[int, str, float]]:
    """Training loss at every step (with a little deterministic noise), holdout loss every few steps."""
    rows = [(s, "loss", train(s) * (1 + 0.01 * math.sin(7 * s))) for s in range(1, steps + 1)]
    rows += [(s, "learning_rate", 1e-4) for s in range(1, steps + 1)]
    if holdout is not None:
        every = eval_every or max(1, steps // 4)
        points = sorted({*range(0, steps + 1, every), steps})
        rows += [(s, "eval_loss", holdout(s)) for s in points]
    return rows


def healthy(s: float) -> float:
    return 1.0 + 2.0 * math.exp(-s / 10)


def test_a_converging_run_learned() -> None:
    verdict = training_verdict(
        run_history(100, healthy, lambda s: 0.2 + healthy(s)), steps=100, steps_per_epoch=25
    )
    assert verdict.status == "learned" and not verdict.warnings, verdict.lines()
    assert verdict.headline.startswith(
        "learned: the holdout loss went from 3.2000 to 1.2001 and flattened out"
    )
    assert [s for s, _ in verdict.eval_curve] == [0, 25, 50, 75, 100] and verdict.epochs == 4
    json.dumps(verdict.to_dict())  # stored in the run summary as JSON


def test_two_steps_are_undertrained() -> None:
    history = [
        (0, "eval_loss", 3.0),
        (1, "loss", 3.0),
        (1, "eval_loss", 2.95),
        (2, "loss", 2.9),
        (2, "eval_loss", 2.9),
    ]
    verdict = training_verdict(history, steps=2, steps_per_epoch=40)
    assert verdict.status == "undertrained" and "few_steps" in verdict.codes()
    assert "only 2 optimizer steps (0.05 epochs)" in verdict.headline + verdict.findings[0].message


def test_a_loss_still_falling_steeply_is_undertrained() -> None:
    def linear(s: float) -> float:
        return 3.0 - 0.02 * s

    verdict = training_verdict(run_history(60, linear, lambda s: linear(s) + 0.1), steps=60)
    assert verdict.status == "undertrained" and verdict.codes()[0] == "still_falling", verdict.lines()
    assert "few_steps" not in verdict.codes()
    assert "holdout loss was still falling steeply" in verdict.headline
    ratio, drop, since = tail_descent(verdict.eval_curve)
    assert ratio > 0.9 and drop > 0.1 and since == 45
    # Without a holdout the training loss is judged the same way.
    no_holdout = training_verdict(run_history(60, linear), steps=60)
    assert no_holdout.status == "undertrained" and "still_falling" in no_holdout.codes()
    assert "no_holdout_loss" in no_holdout.codes()


def test_holdout_loss_falling_then_rising_is_overfit() -> None:
    holdout = {0: 3.0, 15: 2.0, 30: 1.8, 45: 2.1, 60: 2.4}
    history = run_history(60, healthy) + [(s, "eval_loss", v) for s, v in holdout.items()]
    verdict = training_verdict(history, steps=60)
    assert verdict.status == "overfit" and verdict.headline == "overfit: overfit after step 30"
    (finding,) = [f for f in verdict.findings if f.code == "overfit"]
    assert (
        finding.severity == "warning"
        and "from 1.8000 at step 30 to 2.4000 at step 60 (+33%)" in finding.message
    )
    # With the best checkpoint kept the registered weights are step 30's: information, not the status.
    kept = training_verdict(history, steps=60, best_step=30, kept_best=True)
    assert kept.status == "learned" and "overfit" not in kept.codes()
    (note,) = [f for f in kept.findings if f.code == "overfit_best_kept"]
    assert note.severity == "info" and "overfit after step 30" in note.message
    assert "the best checkpoint (step 30) was kept" in note.message
    # A small wobble above the minimum is noise, not overfitting.
    wobble = {0: 3.0, 15: 2.0, 30: 1.8, 45: 1.85, 60: 1.86}
    calm = training_verdict(
        run_history(60, healthy) + [(s, "eval_loss", v) for s, v in wobble.items()], steps=60
    )
    assert "overfit" not in calm.codes() and calm.status == "learned"


def test_holdout_loss_never_below_its_start_did_not_learn() -> None:
    holdout = {0: 3.0, 15: 3.05, 30: 3.1, 45: 3.2, 60: 3.3}
    history = run_history(60, lambda s: 3.0) + [(s, "eval_loss", v) for s, v in holdout.items()]
    verdict = training_verdict(history, steps=60)
    assert verdict.status == "did_not_learn" and "did_not_learn" in verdict.codes()
    assert "never went below its value before training (3.0000" in verdict.headline
    # After a handful of steps the same curve is "too early to tell", i.e. undertrained.
    early = training_verdict([(s, n, v) for s, n, v in history if s <= 4] + [(4, "eval_loss", 3.01)], steps=4)
    assert early.status == "undertrained" and "no_progress_yet" in early.codes()


def test_early_stopping_is_not_undertrained() -> None:
    holdout = {0: 3.0, 10: 2.0, 20: 1.9, 30: 1.95, 40: 1.96}
    history = run_history(40, healthy) + [(s, "eval_loss", v) for s, v in holdout.items()]
    verdict = training_verdict(history, steps=20, stopped_early=True, best_step=20, kept_best=True)
    assert (
        verdict.status == "learned"
        and "stopped_early" in verdict.codes()
        and "few_steps" not in verdict.codes()
    )


def evaluation(candidate: float, foundation: float, verdict: str, p: float) -> SimpleNamespace:
    """What ``run_default_suites`` returns, reduced to what the verdict reads."""
    data = {
        "suite": {
            "name": "support",
            "primary_metric": "category_accuracy",
            "reference": "evals/support.yaml",
        },
        "models": {
            "support:1": {"summary": {"category_accuracy": {"mean": candidate, "higher_is_better": True}}}
        },
        "comparisons": [
            {
                "candidate": "support:1",
                "role": "foundation",
                "metric": "category_accuracy",
                "baseline_mean": foundation,
                "delta": candidate - foundation,
                "p_value": p,
                "verdict": verdict,
                "unreliable": False,
            }
        ],
    }
    outcome = SimpleNamespace(suite="evals/support.yaml", recorded=SimpleNamespace(data=data))
    return SimpleNamespace(candidate="support:1", outcomes=[outcome])


def test_primary_metric_far_below_the_fit_target_is_undertrained() -> None:
    history = run_history(100, healthy, lambda s: 0.2 + healthy(s))
    low = training_verdict(
        history, steps=100, evaluation=evaluation(0.04, 0.0, "better", 0.04), fit_target=0.9
    )
    assert low.status == "undertrained", low.lines()
    (primary,) = low.primary
    assert primary.gap == 0.9 - 0.04 and primary.far_below_target
    assert "category_accuracy 0.040 is far below the fit target 0.9" in low.headline
    (far,) = [f for f in low.findings if f.code == "far_below_fit_target"]
    assert "0.860 short" in far.message and "not yet useful" in far.message
    summary = next(f for f in low.findings if f.code == "primary_metric").message
    assert summary == (
        "support category_accuracy 0.040: foundation 0.000 (+0.040, better, p = 0.04); "
        "fit target 0.9, 0.860 short (far below)"
    )
    good = training_verdict(
        history, steps=100, evaluation=evaluation(0.84, 0.0, "better", 1e-20), fit_target=0.9
    )
    assert good.status == "learned" and "below_fit_target" in good.codes()
    # The forgetting suite has no fit target; a per-suite mapping picks the suite's own target.
    assert training_verdict(history, steps=100, evaluation=evaluation(0.04, 0.0, "better", 0.04),
                            fit_target={"evals/support.yaml": None}).status == "learned"  # fmt: skip
    same = training_verdict(
        history, steps=100, evaluation=evaluation(0.5, 0.5, "no significant difference", 1.0)
    )
    assert "not_better_than_foundation" in same.codes() and same.status == "learned"
    failed = training_verdict(history, steps=100, evaluation={"error": "RuntimeError: boom"})
    assert "no_evaluation" in failed.codes() and failed.primary == []


def test_inputs_in_other_shapes() -> None:
    assert training_verdict([], steps=0).status == "unknown"
    series = {"loss": [(1, 3.0), (2, 2.9)], "eval_loss": [(0, 3.0), (2, 2.9)]}
    assert history_rows(series)[0] == (1, "loss", 3.0)
    assert training_verdict(series, steps=2).status == "undertrained"
    listed = training_verdict(series, steps=2, evaluation=[PrimaryMetric("s", "m", 0.1, fit_target=0.9)])
    assert "far_below_fit_target" in listed.codes()


def test_a_two_step_training_run_is_flagged_undertrained(train_project) -> None:
    from tuneloop.train import get_run, train

    result = train(train_project, overrides={"max_steps": 2})
    assert result.status == "completed" and result.verdict is not None
    assert result.verdict.status == "undertrained" and "few_steps" in result.verdict.codes()
    assert result.verdict.eval_curve[0][0] == 0  # the holdout curve starts before training
    stored = get_run(train_project, result.run_name).summary["verdict"]
    assert stored["status"] == "undertrained" and stored["findings"][0]["code"] == "few_steps"
    assert result.to_dict()["verdict"]["status"] == "undertrained"
    report = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Did it learn?" in report and "only 2 optimizer steps" in report
