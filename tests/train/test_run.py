"""End-to-end runs on the tiny model: recording, lineage, adapters, methods and resume."""

from __future__ import annotations

import json
import signal

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import conversations, preferences, write_jsonl

from tuneloop.progress import RecordingProgress
from tuneloop.registry import get_model_version
from tuneloop.store import DatasetVersionRecord, RunMetricRecord, RunRecord
from tuneloop.train import get_run, metric_series, train


def _artifact(project, reference):
    info = get_model_version(project, reference)
    return info, project.artifacts.tree_path(info.artifact_sha256)


def test_sft_run_is_recorded_with_lineage_and_registers_a_candidate(train_project):
    progress = RecordingProgress()
    result = train(train_project, progress=progress)
    assert result.status == "completed" and result.model_version == "tiny:1"
    run = get_run(train_project, result.run_name)
    assert run.status == "completed" and run.method == "sft" and run.adapter == "lora"
    assert run.dataset_version_id is not None and len(run.base_weights_sha256) == 64
    assert run.chat_template_sha256 and run.environment["libraries"]["torch"] == torch.__version__
    assert run.config["settings"]["learning_rate"] == 0.003
    series = metric_series(train_project, run.id)
    assert [s for s, _ in series["loss"]] == list(range(1, 7))
    # the stage reports through the caller's progress: the pre-flight lines, then the training bar
    lines = [text for _, text in progress.messages]
    assert lines[0].startswith("pre-flight sft/lora: 40 examples, ")
    assert lines[1].startswith("train.jsonl:1: ") and "⟦" in lines[1]
    assert "  lora_alpha = 32: 2 x r" in lines
    assert "  packing = False: on for cpt, off otherwise (length-grouped batches)" in lines
    # the data check reports its own tasks through the same progress; one bar is the training's
    (bar,) = [task for task in progress.tasks if task.description == "training"]
    assert {task.description for task in progress.tasks} >= {"data check", "training"}
    assert bar.total == 6 and bar.completed == 6 and bar.finished
    for name in ("learning_rate", "token_accuracy", "tokens_per_second", "eval_loss"):
        assert name in series
    version, files = _artifact(train_project, "tiny:1")
    assert version.status == "candidate" and version.kind == "adapter" and version.run_id == run.id
    assert version.lineage["dataset_digest"] == run.config["dataset_digest"]
    assert version.lineage["chat_template_sha256"] == run.chat_template_sha256
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= {
        p.name for p in files.iterdir()
    }
    lora_b = [t for n, t in load_file(files / "adapter_model.safetensors").items() if "lora_B" in n]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: it was trained
    assert json.loads((files / "generation_config.json").read_text())["eos_token_id"] == 2
    assert (result.run_dir / "report.html").is_file()
    events = [json.loads(line) for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "metrics" and "loss" in e] == list(range(1, 7))
    assert events[-1]["event"] == "completed"


def test_training_on_one_repeated_example_makes_the_loss_fall(train_project):
    repeated = [conversations(1)[0]] * 12
    write_jsonl(train_project.root / "one.jsonl", repeated)
    result = train(
        train_project,
        data=[train_project.root / "one.jsonl"],
        force=True,
        overrides={"max_steps": 15, "learning_rate": 0.01, "adapter": "full", "eval_every_steps": 0},
    )
    losses = [v for _, v in metric_series(train_project, get_run(train_project, result.run_name).id)["loss"]]
    assert losses[-1] < 0.6 * losses[0]


def _final_trainable(result):
    return load_file(
        result.run_dir
        / "checkpoints"
        / sorted(p.name for p in (result.run_dir / "checkpoints").iterdir())[-1]
        / "trainable.safetensors"
    )


def test_resume_after_a_crash_reaches_the_same_result_as_an_uninterrupted_run(train_project):
    from tuneloop.train.training_loop import SimulatedCrash

    settings = {"max_steps": 6, "save_every_steps": 2}
    straight = train(train_project, register_as="straight", overrides=settings)
    with pytest.raises(SimulatedCrash):
        train(train_project, register_as="crashed", overrides=settings, crash_after_step=3)
    crashed = [r for r in _runs(train_project) if r.status == "running"]
    assert len(crashed) == 1  # like kill -9: still "running", but its lock is free
    resumed = train(train_project, resume=True)
    assert resumed.run_name == crashed[0].name and resumed.model_version == "crashed:1"
    assert resumed.metrics["loss"] == pytest.approx(straight.metrics["loss"], rel=1e-5)
    assert resumed.metrics["eval_loss"] == pytest.approx(straight.metrics["eval_loss"], rel=1e-5)
    first, second = _final_trainable(straight), _final_trainable(resumed)
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=1e-5, atol=1e-6)
    steps = [s for s, _ in metric_series(train_project, get_run(train_project, resumed.run_name).id)["loss"]]
    assert steps == list(range(1, 7))  # step 3 (after the step-2 checkpoint) was not recorded twice
    assert len(list((resumed.run_dir / "checkpoints").iterdir())) == 2  # keep_checkpoints


def _runs(project):
    from tuneloop.train import list_runs

    return list_runs(project)


def test_ctrl_c_saves_a_checkpoint_and_marks_the_run_interrupted(train_project, monkeypatch):
    import tuneloop.train.training_loop as loop

    original = loop.train_step
    calls = {"n": 0}

    def interrupted_step(ctx, step):
        values = original(ctx, step)
        calls["n"] += 1
        if calls["n"] == 2:
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C during step 2
        return values

    monkeypatch.setattr(loop, "train_step", interrupted_step)
    result = train(train_project, overrides={"save_every_steps": 100})
    assert result.status == "interrupted" and result.model_version is None
    assert get_run(train_project, result.run_name).status == "interrupted"
    assert (result.run_dir / "checkpoints" / "step-00000002" / "state.json").is_file()
    monkeypatch.setattr(loop, "train_step", original)
    finished = train(train_project, resume=result.run_name)
    assert finished.status == "completed" and finished.model_version == "tiny:1"


@pytest.mark.parametrize("adapter", ["qlora", "dora", "full"])
def test_each_adapter_kind_trains(train_project, adapter):
    result = train(train_project, adapter=adapter, overrides={"max_steps": 3, "eval_every_steps": 0})
    version, files = _artifact(train_project, result.model_version)
    if adapter == "full":
        assert version.kind == "full"
        base = load_file(train_project.resolve_path(train_project.config.model.base) / "model.safetensors")
        trained = load_file(files / "model.safetensors")
        assert any(not torch.equal(base[n], trained[n]) for n in base)
    else:
        weights = load_file(files / "adapter_model.safetensors")
        assert any("lora_B" in n and t.abs().sum() > 0 for n, t in weights.items())
        config = json.loads((files / "adapter_config.json").read_text())
        assert config["use_dora"] == (adapter == "dora")


@pytest.mark.parametrize("method", ["dpo", "orpo", "kto"])
def test_preference_methods_train(train_project, method):
    write_jsonl(train_project.root / "prefs.jsonl", preferences(24))
    result = train(
        train_project,
        method=method,
        data=[train_project.root / "prefs.jsonl"],
        overrides={"max_steps": 3, "learning_rate": 0.01, "tokens_per_step": 128},
        holdout=[],
    )
    run = get_run(train_project, result.run_name)
    series = metric_series(train_project, run.id)
    assert "reward_accuracy" in series and len(series["loss"]) == 3
    if method == "dpo":
        assert series["loss"][0][1] == pytest.approx(
            0.6931, abs=1e-3
        )  # log 2: the policy starts at its reference
    weights = load_file(_artifact(train_project, result.model_version)[1] / "adapter_model.safetensors")
    assert any("lora_B" in n and t.abs().sum() > 0 for n, t in weights.items())


def test_continued_pretraining_then_sft_records_both_stages(train_project):
    (train_project.root / "docs").mkdir()
    for index in range(12):
        (train_project.root / "docs" / f"d{index}.txt").write_text(
            f"Acme router manual section {index}. " * 20
        )
    cpt = train(
        train_project,
        method="cpt",
        data=[train_project.root / "docs"],
        holdout=[],
        force=True,
        register_as="domain",
        overrides={"max_steps": 2, "tokens_per_step": 256},
    )
    run = get_run(train_project, cpt.run_name)
    assert run.config["settings"]["packing"] is True and run.config["settings"]["loss_masking"] == "full"
    sft = train(train_project, parent=cpt.model_version, overrides={"max_steps": 2})
    child = get_model_version(train_project, sft.model_version)
    assert child.parent_version_id == get_model_version(train_project, cpt.model_version).id
    assert [s["method"] for s in child.lineage["stages"]] == ["cpt", "sft"]
    assert get_run(train_project, sft.run_name).parent_version_id == child.parent_version_id


def test_a_failing_data_gate_stops_the_run_unless_forced(train_project):
    from tuneloop.errors import CheckFailed

    write_jsonl(train_project.root / "few.jsonl", conversations(4))
    few = [train_project.root / "few.jsonl"]
    with pytest.raises(CheckFailed) as info:
        train(train_project, data=few)
    assert info.value.code == "data_gate_failed"
    with train_project.store.session() as session:
        assert session.query(RunRecord).count() == 0
    result = train(
        train_project,
        data=few,
        force=True,
        force_reason="smoke test of the loop",
        overrides={"max_steps": 1},
    )
    run = get_run(train_project, result.run_name)
    assert run.forced and run.force_reason == "smoke test of the loop"
    with train_project.store.session() as session:
        version = session.get(DatasetVersionRecord, run.dataset_version_id)
        assert version.gate_passed is False


def test_the_run_writes_metrics_only_once_per_step(train_project):
    result = train(train_project, overrides={"max_steps": 2})
    with train_project.store.session() as session:
        rows = (
            session.query(RunMetricRecord)
            .filter_by(run_id=get_run(train_project, result.run_name).id, name="loss")
            .all()
        )
    assert sorted(r.step for r in rows) == [1, 2]


def test_the_post_training_evaluation_hook_runs_the_default_suites(train_project, monkeypatch):
    import tuneloop.evaluate as evaluate

    calls = []
    monkeypatch.setattr(
        evaluate,
        "run_default_suites",
        lambda project, reference, progress=None: calls.append(reference) or "table",
    )
    train_project.config.train.eval_after_train = True
    skipped = train(train_project, overrides={"max_steps": 1})  # no suites, no forgetting check
    assert skipped.evaluation is None and calls == []
    train_project.config.eval.forgetting_check = True
    evaluated = train(train_project, overrides={"max_steps": 1})
    assert calls == [evaluated.model_version] and evaluated.evaluation == "table"
    train(train_project, no_eval=True, overrides={"max_steps": 1})
    assert len(calls) == 1


def test_report_to_a_tracker_that_is_not_installed_is_a_usage_error(train_project, monkeypatch):
    import importlib.util

    from tuneloop.errors import InvalidInput

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(InvalidInput) as info:
        train(train_project, overrides={"report_to": ["mlflow"]})
    assert info.value.code == "tracker_not_installed" and "pip install mlflow" in info.value.message
    assert _runs(train_project) == []


def test_report_to_tensorboard_logs_the_metrics(train_project):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = train(train_project, overrides={"max_steps": 2, "report_to": ["tensorboard"]})
    accumulator = EventAccumulator(str(result.run_dir / result.run_name))  # hparams go to a subfolder
    accumulator.Reload()
    assert [e.step for e in accumulator.Scalars("loss")] == [1, 2]


def test_data_can_name_a_registered_dataset_version(train_project):
    from pathlib import Path

    first = train(train_project, overrides={"max_steps": 1})
    version_id = get_run(train_project, first.run_name).dataset_version_id
    again = train(train_project, data=[Path(str(version_id))], overrides={"max_steps": 1})
    run = get_run(train_project, again.run_name)
    assert run.dataset_version_id == version_id and not run.forced
    from tuneloop.errors import NotFound

    with pytest.raises(NotFound):
        train(train_project, data=[Path("no-such-dataset")])
