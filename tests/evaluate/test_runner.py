"""Runs: baselines are planned from the registry, every model is scored, compared, gated and stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evalhelpers import SUPPORT_ROWS, answer
from evalhelpers import register_version as register
from sqlalchemy import func, select

from tuneloop.evaluate.evaluations import compare_evaluations, list_evaluations, load_report, record_run
from tuneloop.evaluate.runner import run_suite
from tuneloop.project import Project
from tuneloop.registry import list_results, set_alias
from tuneloop.store import EvalItemScoreRecord

TRUTH = {question: (category, priority) for question, category, priority in SUPPORT_ROWS}


def correct(question: str) -> str:
    return answer(*TRUTH[question])


def wrong_priority(question: str) -> str:
    category, priority = TRUTH[question]
    return answer(category, "low" if priority != "low" else "high")


def refusal(question: str) -> str:
    return "I'm sorry, but I can't help with that."


@pytest.fixture
def versions(support_project: Project, lively_model_dir: Path, lively_model_dir_2: Path):
    first = register(support_project, lively_model_dir, lively_model_dir_2)
    set_alias(support_project, first.reference, "production", reason="test")
    register(support_project, lively_model_dir, lively_model_dir_2)
    return support_project, str(lively_model_dir_2)


def test_candidate_against_foundation_and_production(versions, scripted_answers) -> None:
    project, foundation = versions
    scripted_answers({"proj:2": correct, "proj:1": wrong_priority, foundation: refusal})
    run = run_suite(project, "support", ["proj:2"])
    plan = run.plan.candidates[0]
    assert (
        plan.baselines == {"foundation": foundation, "production": "proj:1"}
        and plan.trained_from == "foundation"
    )
    by = {(c.role, c.metric): c.comparison for c in run.comparisons}
    assert by[("foundation", "category_accuracy")].verdict == "better"
    assert by[("foundation", "category_accuracy")].p_value == pytest.approx(2 / 2**8)
    assert by[("production", "category_accuracy")].verdict == "no significant difference"
    assert by[("production", "priority_accuracy")].verdict == "better"
    assert by[("foundation", "json_valid")].wins == 8
    # The suite's better_than gate, and the starter tuneloop.yaml's floor on the primary metric.
    assert [(g.origin, g.rule, g.metric, g.status) for g in run.gates] == [
        ("suite", "category_accuracy: better than foundation", "category_accuracy", "passed"),
        ("project", "primary ≥ 0.8", "category_accuracy", "passed"),
    ] and run.gates_passed is True
    assert "(1 vs 0;" in run.gates[0].reason and "1 reaches the fit target 0.9" in run.gates[0].reason

    recorded = record_run(project, run)
    info = recorded.evaluations[0]
    assert info.kind == "eval" and info.passed is True and info.model_version_id is not None
    assert info.summary["metrics"]["category_accuracy"] == 1.0
    assert info.summary["baselines"]["foundation"]["metrics"]["category_accuracy"] == 0.0
    with project.store.session() as session:
        rows = session.scalar(
            select(func.count())
            .select_from(EvalItemScoreRecord)
            .where(EvalItemScoreRecord.evaluation_id == info.id)
        )
    assert rows == 3 * 8 * 5  # three models, eight items, five score columns
    html = recorded.html_file.read_text()
    assert recorded.html_file.parent == project.state_dir / "reports"
    assert "regressions" in html and "Per item" in html and "category_accuracy" in html
    assert load_report(project, info)["comparisons"]


def test_broken_candidate_fails_the_gate(versions, scripted_answers) -> None:
    project, foundation = versions
    scripted_answers({"proj:2": refusal, "proj:1": correct, foundation: refusal})
    run = run_suite(project, "support", ["proj:2"])
    assert run.gates[0].status == "failed" and run.gates_passed is False
    assert record_run(project, run, kind="gate").evaluations[0].passed is False
    assert [r.kind for r in list_results(project, kind="gate")] == ["gate"]


def test_compare_two_stored_evaluations(versions, scripted_answers) -> None:
    project, foundation = versions
    scripted_answers({"proj:2": correct, "proj:1": wrong_priority, foundation: refusal})
    first = record_run(project, run_suite(project, "support", ["proj:1"])).evaluations[0]
    second = record_run(project, run_suite(project, "support", ["proj:2"])).evaluations[0]
    diffs = {d.metric: d.comparison for d in compare_evaluations(project, first.id, second.id)}
    assert diffs["priority_accuracy"].verdict == "better" and diffs["category_accuracy"].delta == 0
    assert [e.id for e in list_evaluations(project, suite="support")] == [first.id, second.id]


def test_plain_reference_has_no_automatic_baselines(
    support_project: Project, scripted_answers, lively_model_dir
) -> None:
    scripted_answers({str(lively_model_dir): correct, "other": refusal})
    run = run_suite(support_project, "support", [str(lively_model_dir)], apply_gates=False)
    assert run.plan.candidates[0].baselines == {} and run.comparisons == []
    run = run_suite(support_project, "support", [str(lively_model_dir)], baselines=["other"])
    assert run.plan.candidates[0].baselines == {"baseline": "other"}
    assert run.gates[0].status == "skipped"  # the suite's gate needs a foundation baseline


def test_consistency_metric_gets_sampled_answers(
    support_project: Project, scripted_answers, lively_model_dir
) -> None:
    suite = support_project.root / "evals" / "consistency.yaml"
    suite.write_text(
        "name: c\nitems: {file: holdout.jsonl}\nmetrics: [json_valid, {name: consistency, samples: 3}]\n"
    )
    scripted_answers({str(lively_model_dir): correct})
    run = run_suite(support_project, str(suite), [str(lively_model_dir)])
    assert run.models[str(lively_model_dir)].table.mean("consistency") == 1.0


def test_real_tiny_models_end_to_end(
    support_project: Project, lively_model_dir: Path, lively_model_dir_2: Path
) -> None:
    """No scripted answers: the real engine generates (and caches) for candidate and foundation."""
    register(support_project, lively_model_dir, lively_model_dir_2)
    run = run_suite(support_project, "support", ["proj:1"])
    assert set(run.models) == {"proj:1", str(lively_model_dir_2)}
    assert all(len(m.generations) == 8 for m in run.models.values())
    again = run_suite(support_project, "support", ["proj:1"])
    assert all(m.cached == 8 for m in again.models.values())
    data = record_run(support_project, again).data
    json.dumps(data)  # the report is plain JSON
    assert data["models"]["proj:1"]["roles"] == ["candidate"]


class ScriptedJudge:
    """A judge backend: prefers answers that parse as JSON; returns garbage for chosen answers."""

    identity = "scripted-judge"

    def __init__(self, garbage_for: str = "") -> None:
        self.garbage_for = garbage_for
        self.requests = 0

    def complete(self, requests, *, attempt, schema):
        replies = []
        for request in requests:
            self.requests += 1
            text = request.messages[-1]["content"]
            if self.garbage_for and self.garbage_for in text:
                replies.append("the answer seems fine to me")
            elif "[Answer A]" in text:
                first = text.split("[Answer A]\n")[1].split("\n[End of A]")[0]
                replies.append('{"winner": "A"}' if first.startswith("{") else '{"winner": "B"}')
            else:
                replies.append(
                    '{"score": 5}'
                    if '{"category"' in text.split("Assistant's answer to grade:")[1]
                    else '{"score": 1}'
                )
        return replies


def test_judges_inside_a_run_and_failures_in_the_report(versions, scripted_answers) -> None:
    project, foundation = versions
    suite = project.root / "evals" / "judged.yaml"
    suite.write_text(
        "name: judged\nitems: {file: holdout.jsonl}\nmetrics:\n"
        "  - {name: judge_rubric, rubric: The answer is a JSON ticket with the right category.}\n"
        "  - judge_pairwise\n"
    )
    scripted_answers({"proj:2": correct, "proj:1": correct, foundation: refusal})
    judge = ScriptedJudge(garbage_for="Where is my parcel?")
    run = run_suite(project, str(suite), ["proj:2"], judge_backend=judge, use_cache=False)
    table = run.models["proj:2"].table
    assert table.failures("judge_rubric") == 1 and table.mean("judge_rubric") == 1.0
    pairwise = next(c for c in run.comparisons if c.metric == "judge_pairwise" and c.role == "foundation")
    assert pairwise.comparison.wins == 7 and pairwise.candidate_failures == 1 and pairwise.unreliable
    data = record_run(project, run).data
    assert data["models"]["proj:2"]["summary"]["judge_rubric"]["failures"] == 1
    failed = data["models"]["proj:2"]["scores"]["judge_rubric"][2]
    assert failed["score"] is None and "unparseable" in failed["error"]
    assert judge.requests > 2 * 8  # the garbage answers were retried


def test_default_suites_after_training(versions, scripted_answers) -> None:
    from tuneloop.evaluate.commands_render import default_suites_text
    from tuneloop.evaluate.defaults import default_suite_references, run_default_suites

    project, foundation = versions
    assert default_suite_references(project) == ["evals/support.yaml", "builtin:general"]

    def general(script):
        return lambda q: script(q) if q in TRUTH else "Paris"

    scripted_answers(
        {"proj:2": general(correct), "proj:1": general(wrong_priority), foundation: general(refusal)}
    )
    result = run_default_suites(project, "proj:2")
    assert [o.suite for o in result.outcomes] == ["evals/support.yaml", "builtin:general"]
    assert all(o.error is None for o in result.outcomes) and result.passed is True
    text = default_suites_text(result)
    assert "category_accuracy *" in text and "general_ability" in text and "report:" in text
    assert result.to_dict()["suites"][0]["evaluation_ids"]
    assert {r.suite for r in list_evaluations(project, model="proj:2")} == {"support", "general"}
