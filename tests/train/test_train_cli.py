"""The training verbs through the CLI: JSON output, exit codes, no tracebacks."""

from __future__ import annotations

import json

from train_helpers import conversations, write_jsonl


def test_train_runs_list_show_compare_and_export(cli, train_project, tmp_path):
    root = train_project.root
    dry = cli("train", "--dry-run", "--json", cwd=root)
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["status"] == "dry-run"
    first = cli("train", "--max-steps", "2", "--no-eval", "--json", cwd=root)
    assert first.exit_code == 0, first.stderr
    second = cli("train", "--max-steps", "3", "--name", "other", "--tag", "experiment", "--json", cwd=root)
    assert second.exit_code == 0, second.stderr
    runs = [json.loads(first.stdout)["run"], json.loads(second.stdout)["run"]]
    assert json.loads(second.stdout)["model_version"] == "other:1"

    listed = json.loads(cli("runs", "list", "--json", cwd=root).stdout)
    assert {r["name"] for r in listed} == set(runs) and all(r["status"] == "completed" for r in listed)
    shown = json.loads(cli("runs", "show", runs[1], "--json", cwd=root).stdout)
    assert shown["config"]["tag"] == "experiment" and len(shown["metrics"]["loss"]) == 3
    compared = json.loads(cli("runs", "compare", *runs, "--json", cwd=root).stdout)
    assert compared["config_differences"]["max_steps"] == [2, 3]
    assert compared["model_versions"] == ["tiny:1", "other:1"]
    human = cli("runs", "compare", *runs, cwd=root)
    assert human.exit_code == 0 and "max_steps" in human.stdout

    exported = cli("export", "tiny:1", "--adapter", "-o", str(tmp_path / "out"), "--json", cwd=root)
    assert exported.exit_code == 0, exported.stderr
    assert "adapter_model.safetensors" in json.loads(exported.stdout)["files"]


def test_failures_give_one_line_and_the_right_exit_code(cli, train_project):
    root = train_project.root
    write_jsonl(root / "few.jsonl", conversations(3))
    gate = cli("train", "--data", "few.jsonl", cwd=root)
    assert gate.exit_code == 1 and "data_gate_failed" in gate.stderr and "Traceback" not in gate.stderr
    nothing = cli("train", "--resume", "--json", cwd=root)
    assert nothing.exit_code == 2 and json.loads(nothing.stdout)["error"]["code"] == "nothing_to_resume"
    unknown = cli("runs", "show", "nope", cwd=root)
    assert unknown.exit_code == 2 and "unknown_run" in unknown.stderr
    bad = cli("train", "--method", "ppo", cwd=root)
    assert bad.exit_code == 2 and "invalid_train_override" in bad.stderr
