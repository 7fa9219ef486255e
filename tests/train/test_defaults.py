"""Derived batch size, epochs and learning rate; early stopping that keeps the best weights."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from safetensors.torch import load_file
from train_helpers import conversations, write_jsonl

from tuneloop.config.train import TrainSection, derive_epochs, derive_examples_per_step
from tuneloop.train import get_run, metric_series, train
from tuneloop.train.early_stopping import BestTracker
from tuneloop.train.learning_rates import supervised_learning_rate
from tuneloop.train.settings import finish_batching, plan_batches, resolve_settings
from tuneloop.train.tokenize import IGNORE, TokenizedSequence, TrainingItem


def _short_conversations(count: int, seed: int = 0) -> list[TrainingItem]:
    """Intent-routing-like items: a 40-token prompt and a 2-8 token answer."""
    rng = random.Random(seed)
    items = []
    for index in range(count):
        answer = rng.randint(2, 8)
        ids = [rng.randrange(3, 500) for _ in range(40 + answer)]
        labels = [IGNORE] * 40 + ids[40:]
        items.append(TrainingItem([TokenizedSequence(ids, labels, f"x:{index}")], f"x:{index}"))
    return items


def _derived_plan(items: list[TrainingItem], *, world_size: int = 1):
    settings = resolve_settings(
        TrainSection(), device="cpu", model_dir=_model_dir(), max_length=512, catalog_targets=None
    )
    finish_batching(settings, len(items), world_size=world_size)
    settings.micro_batch_tokens, settings.max_micro_batch, settings.packing = 4096, 64, False
    plan = plan_batches(items, settings, max_steps=None, world_size=world_size)
    return settings, plan


_MODEL_DIR: Path | None = None


def _model_dir() -> Path:
    """A directory with a SmolLM2-135M-shaped config.json (hidden 576, llama)."""
    global _MODEL_DIR
    if _MODEL_DIR is None:
        import tempfile

        _MODEL_DIR = Path(tempfile.mkdtemp())
        config = {"model_type": "llama", "hidden_size": 576, "intermediate_size": 1536}
        (_MODEL_DIR / "config.json").write_text(json.dumps(config | {"num_hidden_layers": 30}))
    return _MODEL_DIR


def test_500_short_conversations_get_at_least_100_optimizer_steps():
    settings, plan = _derived_plan(_short_conversations(500))
    assert settings.examples_per_step == 8 and settings.tokens_per_step == 0
    assert len(plan.steps) >= 100
    assert all(step.num_items <= 12 for step in plan.steps)  # a remainder joins the last step
    assert "examples_per_step" in settings.derived and "epochs" in settings.derived


@pytest.mark.parametrize("count", [50, 200, 500, 2_000, 20_000, 100_000])
def test_the_derivation_gives_enough_steps_and_bounded_work_from_50_to_100000_examples(count):
    batch = derive_examples_per_step(count)
    epochs = derive_epochs(count, batch)
    steps = epochs * -(-count // batch)
    assert 8 <= batch <= 64
    assert 1 <= epochs <= 10
    assert steps >= min(100, 10 * -(-count // batch))  # ~100 steps, unless capped at 10 passes
    assert count * epochs <= max(25_000, count)  # large sets: about 25,000 examples seen in all


def test_small_sets_get_more_passes_and_large_sets_fewer():
    assert derive_epochs(50, 8) == 10  # 7 steps a pass: capped at 10 passes
    assert derive_epochs(200, 8) == 4  # 25 steps a pass: 4 passes reach 100 steps
    assert derive_epochs(1_000, 8) == 3
    assert derive_epochs(20_000, 40) == 1


def test_distributed_runs_round_the_batch_up_to_the_process_count():
    assert derive_examples_per_step(500, world_size=3) == 9
    _, plan = _derived_plan(_short_conversations(96), world_size=2)
    assert all(len(mb.items) <= 4 for step in plan.steps for mb in step.micro_batches)


def test_tokens_per_step_overrides_the_example_count():
    section = TrainSection(tokens_per_step=64)
    settings = resolve_settings(
        section, device="cpu", model_dir=_model_dir(), max_length=512, catalog_targets=None
    )
    finish_batching(settings, 500)
    assert settings.examples_per_step == 0 and settings.tokens_per_step == 64


def test_learning_rate_follows_model_width_adapter_and_alpha(tmp_path):
    lr, why = supervised_learning_rate(_model_dir(), adapter=True, alpha=32)
    assert lr == pytest.approx(5e-5 * (2000 / 576) ** 0.781 * 10)  # ~1.3e-3 for SmolLM2-135M
    assert "LoRA Without Regret" in why
    full, _ = supervised_learning_rate(_model_dir(), adapter=False, alpha=32)
    assert full == pytest.approx(lr / 10)
    assert supervised_learning_rate(_model_dir(), adapter=True, alpha=64)[0] == pytest.approx(lr / 2)
    wide = tmp_path / "wide"
    wide.mkdir()
    (wide / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8192}))
    assert supervised_learning_rate(wide, adapter=True, alpha=32)[0] < lr / 5
    qwen = tmp_path / "qwen"
    qwen.mkdir()
    (qwen / "config.json").write_text(json.dumps({"model_type": "qwen2", "hidden_size": 8192}))
    assert supervised_learning_rate(qwen, adapter=True, alpha=32)[0] == pytest.approx(
        5e-4 * (2000 / 8192) ** 0.0775
    )


def test_preference_methods_keep_their_low_rates():
    settings = resolve_settings(
        TrainSection(method="dpo"), device="cpu", model_dir=_model_dir(), max_length=512, catalog_targets=None
    )
    assert settings.learning_rate == 5e-5


class _Model:
    """Stands in for a model: one trainable parameter whose value is set by the test."""

    def __init__(self) -> None:
        import torch

        self.weight = torch.nn.Parameter(torch.zeros(2))

    def named_parameters(self):
        return [("weight", self.weight)]


def test_best_tracker_stops_after_patience_and_restores_the_best_weights(tmp_path):
    import torch

    model, tracker = _Model(), BestTracker(patience=2)
    for step, loss in [(0, 2.0), (1, 1.5), (2, 1.2), (3, 1.3), (4, 1.25)]:
        with torch.no_grad():
            model.weight.fill_(step)
        tracker.observe(step, {"eval_loss": loss}, model)
        assert tracker.should_stop == (step == 4)
    assert tracker.step == 2 and tracker.eval_loss == 1.2
    tracker.save(tmp_path, checkpoint_step=4)
    assert tracker.restore_into(model) and model.weight.tolist() == [2.0, 2.0]
    again = BestTracker(patience=2)
    assert not again.load(tmp_path, checkpoint_step=3)  # saved with another checkpoint
    assert again.load(tmp_path, checkpoint_step=4) and again.step == 2 and again.since_best == 2


def test_min_delta_counts_small_drops_as_no_improvement():
    model, tracker = _Model(), BestTracker(patience=1, min_delta=0.1)
    tracker.observe(0, {"eval_loss": 1.0}, model)
    tracker.observe(1, {"eval_loss": 0.95}, model)
    assert tracker.step == 0 and tracker.should_stop


def test_early_stopping_ends_the_run_and_registers_the_best_evaluation_weights(train_project):
    # The holdout asks the training prompts with other answers: the holdout loss soon rises.
    rows = conversations(40)
    contradicting = [
        {**row, "messages": [row["messages"][0], {"role": "assistant", "content": f"No idea, sorry ({i})."}]}
        for i, row in enumerate(rows[:8])
    ]
    write_jsonl(train_project.root / "contradicting.jsonl", contradicting)
    result = train(
        train_project,
        holdout=[train_project.root / "contradicting.jsonl"],
        force=True,
        overrides={
            "max_steps": 30,
            "learning_rate": 0.01,
            "eval_every_steps": 1,
            "save_every_steps": 1,
            "keep_checkpoints": 100,
            "early_stopping_patience": 2,
        },
    )
    run = get_run(train_project, result.run_name)
    summary = run.summary
    evals = dict(metric_series(train_project, run.id)["eval_loss"])
    assert summary["stopped_early"] and summary["steps"] < summary["planned_steps"] == 30
    best_step = min(evals, key=evals.get)
    assert summary["best_step"] == best_step < summary["steps"]
    assert summary["steps"] - best_step == 2  # two evaluations without improvement
    assert summary["kept_best"]
    from tuneloop.registry import get_model_version

    version = get_model_version(train_project, result.model_version)
    adapter = load_file(
        train_project.artifacts.tree_path(version.artifact_sha256) / "adapter_model.safetensors"
    )
    if best_step == 0:
        assert all(t.abs().sum() == 0 for n, t in adapter.items() if "lora_B" in n)
        return
    checkpoint = load_file(result.run_dir / "checkpoints" / f"step-{best_step:08d}" / "trainable.safetensors")
    by_suffix = {name.replace(".default", "").split("layers.", 1)[-1]: t for name, t in checkpoint.items()}
    for name, tensor in adapter.items():
        assert tensor.equal(by_suffix[name.split("layers.", 1)[-1]])


def test_learning_rate_sweep_picks_the_rate_with_the_lowest_proxy_holdout_loss(train_project):
    from tuneloop.train.sweep import SWEEP_FACTORS

    result = train(train_project, sweep="lr", no_eval=True, overrides={"max_steps": 8})
    sweep = result.settings["sweep"]
    assert [round(r["learning_rate"] / 0.003, 6) for r in sweep] == list(SWEEP_FACTORS)
    best = min(sweep, key=lambda r: r["eval_loss"])
    run = get_run(train_project, result.run_name)
    assert run.config["settings"]["learning_rate"] == best["learning_rate"]
    assert run.config["settings"]["sweep"] == sweep
    assert "sweep" in run.config["settings"]["derived"]["learning_rate"]


def test_sweep_without_holdout_is_refused_before_training(train_project):
    from tuneloop.errors import InvalidInput
    from tuneloop.project import Project

    config = train_project.root / "tuneloop.yaml"
    config.write_text(config.read_text().replace("  holdout: [holdout.jsonl]\n", ""))
    with pytest.raises(InvalidInput, match="holdout"):
        train(Project.open(train_project.root), sweep="lr", overrides={"max_steps": 2})


def test_train_cli_sweep_option_reaches_the_run(cli, train_project):
    root = train_project.root
    outcome = cli("train", "--sweep", "lr", "--max-steps", "4", "--no-eval", cwd=root)
    assert outcome.exit_code == 0, outcome.stderr
    assert "sweep 5/5" in outcome.stdout + outcome.stderr
    bad = cli("train", "--sweep", "batch", "--max-steps", "4", cwd=root)
    assert bad.exit_code == 2 and "choose one of lr" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr


SUITE = """
name: tiny
items: {file: ../holdout.jsonl}
category_field: category
generation: {max_new_tokens: 8, temperature: 0.0, batch_size: 8}
metrics:
  - {name: json_field_accuracy, fields: [category]}
  - length
primary_metric: category_accuracy
"""


def _with_suite(project):
    from tuneloop.project import Project

    (project.root / "evals").mkdir()
    (project.root / "evals" / "tiny.yaml").write_text(SUITE)
    config = project.root / "tuneloop.yaml"
    config.write_text(config.read_text().replace("eval:\n", "eval:\n  suites: [evals/tiny.yaml]\n"))
    return Project.open(project.root)


def test_with_a_suite_early_stopping_selects_on_its_primary_metric(train_project):
    project = _with_suite(train_project)
    dry = train(project, dry_run=True)
    assert dry.settings["derived"]["early_stopping_metric"].startswith(
        "eval_category_accuracy: category_accuracy of suite tiny on 8 items"
    )
    result = train(project, no_eval=True, overrides={"max_steps": 4, "eval_every_steps": 2})
    run = get_run(project, result.run_name)
    series = metric_series(project, run.id)
    assert [step for step, _ in series["eval_category_accuracy"]] == [0, 2, 4]
    assert all(0.0 <= value <= 1.0 for _, value in series["eval_category_accuracy"])
    assert run.summary["best_metric"] == "eval_category_accuracy"
    assert run.config["settings"]["early_stopping_metric"] == "eval_category_accuracy"


def test_primary_selection_without_a_suite_is_a_usage_error_and_eval_loss_needs_no_suite(train_project):
    from tuneloop.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no eval suite"):
        train(train_project, dry_run=True, overrides={"early_stopping_metric": "primary"})
    project = _with_suite(train_project)
    plain = train(project, dry_run=True, overrides={"early_stopping_metric": "eval_loss"})
    assert plain.settings["early_stopping_metric"] == "eval_loss"


def test_a_metric_tie_goes_to_the_lower_holdout_loss():
    model = _Model()
    tracker = BestTracker(patience=2, metric="eval_accuracy", higher_is_better=True)
    for step, accuracy, loss in [(0, 0.0, 3.0), (1, 0.0, 2.0), (2, 0.0, 1.5), (3, 0.5, 1.6), (4, 0.5, 1.7)]:
        tracker.observe(step, {"eval_accuracy": accuracy, "eval_loss": loss}, model)
    assert tracker.step == 3 and not tracker.should_stop  # 0.0 three times did not stop the run
    tracker.observe(5, {"eval_accuracy": 0.25, "eval_loss": 1.0}, model)
    assert tracker.should_stop and tracker.value == 0.5


def test_a_plateaued_metric_stops_the_run_while_the_loss_only_creeps_down():
    model = _Model()
    tracker = BestTracker(patience=2, metric="eval_accuracy", higher_is_better=True)
    for step, accuracy, loss in [
        (0, 0.0, 6.0),
        (1, 0.0, 0.6),
        (2, 0.9, 0.44),
        (3, 0.9, 0.43),
        (4, 0.9, 0.42),
    ]:
        tracker.observe(step, {"eval_accuracy": accuracy, "eval_loss": loss}, model)
    assert tracker.should_stop  # two evaluations whose loss fell by under 5%
    assert tracker.step == 4 and tracker.eval_loss == 0.42  # the kept weights: the lowest loss of the tie
