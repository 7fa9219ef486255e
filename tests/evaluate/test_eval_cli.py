"""The eval verbs: --json output, exit codes (0 ok, 1 gate failed, 2 bad input), no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from evalhelpers import SUPPORT_ROWS, answer, register_two_versions

from tuneloop.project import Project

TRUTH = {q: (c, p) for q, c, p in SUPPORT_ROWS}


def outputs_file(path: Path, good: bool, with_reference: bool = True) -> Path:
    lines = []
    for question, (category, priority) in TRUTH.items():
        completion = answer(category, priority) if good else "Sorry, I cannot help."
        record = {"prompt": question, "completion": completion, "category": category, "latency_s": 0.5}
        if with_reference:
            record["reference"] = answer(category, priority)
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_metrics_lists_the_registry(cli, project_dir) -> None:
    result = cli("eval", "metrics", "--json")
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"json_field_accuracy", "judge_pairwise", "consistency"} <= names


def test_score_outputs_file_with_a_suite(cli, support_project: Project) -> None:
    good = outputs_file(support_project.root / "good.jsonl", good=True, with_reference=False)
    result = cli("eval", "score", "--suite", "support", "--outputs", str(good), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    summary = data["report"]["models"][f"file:{good}"]["summary"]
    assert summary["category_accuracy"]["mean"] == 1.0  # references came from the suite's items
    assert data["evaluation_ids"] and Path(data["report_html"]).is_file()


def test_score_against_baseline_outputs_and_gate_exit_code(cli, support_project: Project) -> None:
    good = outputs_file(support_project.root / "good.jsonl", good=True)
    bad = outputs_file(support_project.root / "bad.jsonl", good=False)
    suite = support_project.root / "evals" / "paired.yaml"
    suite.write_text(
        "name: paired\nitems: {file: holdout.jsonl}\nmetrics: [json_valid, latency]\n"
        "gates: [{metric: json_valid, rule: no_significant_regression, baseline: baseline}]\n"
    )
    ok = cli(
        "eval",
        "score",
        "--suite",
        str(suite),
        "--outputs",
        str(good),
        "--baseline-outputs",
        str(bad),
        "--json",
    )
    assert ok.exit_code == 0, ok.stderr
    comparison = next(
        c for c in json.loads(ok.stdout)["report"]["comparisons"] if c["metric"] == "json_valid"
    )
    assert comparison["verdict"] == "better" and comparison["wins"] == 8
    failed = cli(
        "eval", "score", "--suite", str(suite), "--outputs", str(bad), "--baseline-outputs", str(good)
    )
    assert failed.exit_code == 1 and "gate failed" in failed.stdout


def test_score_one_metric_outside_a_project(cli, tmp_path: Path) -> None:
    outputs = outputs_file(tmp_path / "o.jsonl", good=True)
    result = cli(
        "eval",
        "score",
        "--metric",
        "json_field_accuracy",
        "--option",
        "fields=[category]",
        "--outputs",
        str(outputs),
        "--json",
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["report"]["models"][f"file:{outputs}"]["summary"]
    assert summary["category_accuracy"]["mean"] == 1.0
    assert (tmp_path / "o-scores.html").is_file() and (tmp_path / "o-scores.json").is_file()


def test_bad_outputs_and_bad_suite_exit_2_with_location(cli, support_project: Project) -> None:
    broken = support_project.root / "broken.jsonl"
    broken.write_text('{"prompt": "q", "completion": "a"}\n{"prompt": "q"}\nnot json\n')
    result = cli("eval", "score", "--metric", "exact_match", "--outputs", str(broken))
    assert (
        result.exit_code == 2
        and "broken.jsonl:2:completion" in result.stderr
        and "broken.jsonl:3" in result.stderr
    )
    assert "Traceback" not in result.stderr
    bad_suite = support_project.root / "evals" / "bad.yaml"
    bad_suite.write_text(
        "name: bad\nitems: {file: holdout.jsonl}\nmetrics:\n  - {name: chrf, char_order: 0}\n"
    )
    result = cli("eval", "run", "--suite", str(bad_suite), "--model", "x", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["problems"][0]["line"] == 4 and "char_order" in error["problems"][0]["message"]


def test_run_show_list_compare_and_gate(
    cli, support_project: Project, scripted_answers, lively_model_dir, lively_model_dir_2
) -> None:
    register_two_versions(support_project, lively_model_dir, lively_model_dir_2)
    scripted_answers(
        {
            "proj:1": lambda q: "nope",
            "proj:2": lambda q: answer(*TRUTH[q]),
            str(lively_model_dir_2): lambda q: "nope",
        }
    )
    run = cli("eval", "run", "--suite", "support", "--model", "proj:2", "--json")
    assert run.exit_code == 0, run.stderr
    first_id = json.loads(run.stdout)["evaluation_ids"][0]
    human = cli("eval", "run", "--suite", "support", "--model", "proj:1")
    assert human.exit_code == 0 and "category_accuracy" in human.stdout and "report:" in human.stdout
    listed = json.loads(cli("eval", "list", "--json").stdout)
    assert [r["model_reference"] for r in listed] == ["proj:2", "proj:1"]
    shown = cli("eval", "show", str(first_id), "--json")
    assert json.loads(shown.stdout)["report"]["suite"]["name"] == "support"
    compared = cli("eval", "compare", str(first_id), str(listed[1]["id"]), "--json")
    metrics = {m["metric"]: m for m in json.loads(compared.stdout)["metrics"]}
    assert metrics["category_accuracy"]["verdict"] == "worse"
    assert cli("eval", "gate", "--model", "proj:2", "--suite", "support").exit_code == 0
    gated = cli("eval", "gate", "--model", "proj:1", "--suite", "support", "--json")
    assert gated.exit_code == 1 and json.loads(gated.stdout)["passed"] is False
    assert cli("eval", "show", "999").exit_code == 2


def test_fit_check_verdicts(cli, support_project: Project, scripted_answers) -> None:
    base = support_project.config.model.base
    scripted_answers({base: lambda q: answer(*TRUTH[q])})
    result = cli("eval", "baseline", "--suite", "support", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["already_works"] is True and "task already works" in data["verdict"]
    scripted_answers({base: lambda q: "no idea"})
    data = json.loads(cli("eval", "baseline", "--suite", "support", "--target", "0.8", "--json").stdout)
    assert data["already_works"] is False and "gap of 0.800" in data["verdict"]
