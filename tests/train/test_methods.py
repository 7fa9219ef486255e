"""Training methods are modules: a new one is picked up by ``tuneloop train --method`` without
touching anything else, and the config names the methods that exist."""

from __future__ import annotations

import json

import pytest

import tuneloop.train.methods as methods
from tuneloop.config.train import TrainSection

SMOOTHING = 0.1

LABEL_SMOOTHING_MODULE = f'''
"""sft with label smoothing: (1 - eps) x the target's NLL + eps x the mean NLL over the vocabulary."""

from __future__ import annotations

from typing import Any

from tuneloop.train.learning_rates import width_scaled_rate
from tuneloop.train.methods import TrainingMethod
from tuneloop.train.methods.sft import conversation_items
from tuneloop.train.objectives import LabelLogProbs, ObjectiveOutput, label_logits, log_probs_of_targets

SMOOTHING = {SMOOTHING}


def forward(model: Any, batch: Any, *, full_logits: bool = False, bf16: bool = False) -> LabelLogProbs:
    logits = label_logits(model, batch, full_logits=full_logits, bf16=bf16)
    out = log_probs_of_targets(logits, batch)
    out.extras["uniform_logp"] = logits.log_softmax(dim=-1).mean(dim=-1)
    return out


def objective(out: LabelLogProbs, totals: Any, settings: Any, **_: Any) -> ObjectiveOutput:
    nll, uniform = -out.token_logp, -out.extras["uniform_logp"]
    per_token = (1 - SMOOTHING) * nll + SMOOTHING * uniform
    n = float(nll.numel())
    return ObjectiveOutput(
        loss=per_token.sum() / max(totals.loss_tokens, 1),
        metrics={{"nll": float(nll.detach().sum()), "uniform_nll": float(uniform.detach().sum())}},
        counts={{"nll": n, "uniform_nll": n}},
    )


METHOD = TrainingMethod(
    name="sft-label-smoothing",
    help="supervised fine-tuning with label smoothing",
    record_kinds=("conversation",),
    trains_on="chat conversations",
    tokenize=conversation_items,
    objective=objective,
    learning_rate=width_scaled_rate,
    forward=forward,
)
'''


@pytest.fixture
def label_smoothing_method(tmp_path, monkeypatch):
    """The toy method as the only addition: one module in a directory on the methods' search path."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "sft_label_smoothing.py").write_text(LABEL_SMOOTHING_MODULE)
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(plugins)])
    monkeypatch.setattr(methods, "_found", {})
    yield "sft-label-smoothing"
    import sys

    sys.modules.pop("tuneloop.train.methods.sft_label_smoothing", None)


def test_a_new_method_module_is_trained_by_the_cli_and_its_loss_is_smoothed(
    cli, train_project, label_smoothing_method
):
    root = train_project.root
    runs = {}
    for method in ("sft", label_smoothing_method):
        trained = cli("train", "--method", method, "--max-steps", "2", "--no-eval", "--json", cwd=root)
        assert trained.exit_code == 0, trained.stderr
        name = json.loads(trained.stdout)["run"]
        runs[method] = json.loads(cli("runs", "show", name, "--json", cwd=root).stdout)
    smoothed, plain = runs[label_smoothing_method], runs["sft"]
    assert smoothed["method"] == label_smoothing_method and smoothed["config"]["settings"]["method"] == (
        label_smoothing_method
    )

    def first(run, name):
        return dict(run["metrics"][name])[1]

    # The same weights, data and plan at step 1: the NLL part is plain sft's loss, and the loss is
    # the smoothed mixture of it and the mean NLL over the vocabulary.
    assert first(smoothed, "nll") == pytest.approx(first(plain, "loss"), rel=1e-5)
    expected = (1 - SMOOTHING) * first(smoothed, "nll") + SMOOTHING * first(smoothed, "uniform_nll")
    assert first(smoothed, "loss") == pytest.approx(expected, rel=1e-5)
    assert abs(first(smoothed, "loss") - first(plain, "loss")) > 1e-4


def test_the_methods_package_lists_every_method_and_the_config_rejects_others(label_smoothing_method):
    assert set(methods.available_methods()) == {"sft", "cpt", "dpo", "orpo", "kto", label_smoothing_method}
    assert TrainSection(method=label_smoothing_method).method == label_smoothing_method
    with pytest.raises(ValueError, match=r"(?s)method\n.*unknown training method 'ppo'.*sft-label-smoothing"):
        TrainSection(method="ppo")


def test_methods_path_variable_adds_a_directory(tmp_path, monkeypatch):
    plugins = tmp_path / "more"
    plugins.mkdir()
    (plugins / "sft_label_smoothing.py").write_text(LABEL_SMOOTHING_MODULE)
    monkeypatch.setattr(methods, "__path__", list(methods.__path__))
    monkeypatch.setenv(methods.METHODS_PATH_VARIABLE, str(plugins))
    try:
        assert methods.get_method("sft-label-smoothing").help.startswith("supervised fine-tuning with")
    finally:
        import sys

        methods._found.pop("sft-label-smoothing", None)
        sys.modules.pop("tuneloop.train.methods.sft_label_smoothing", None)


def test_each_built_in_method_declares_what_the_run_needs():
    declared = {name: method for name, method in methods.available_methods().items()}
    assert {n for n, m in declared.items() if m.needs_reference} == {"dpo", "kto"}
    assert {n for n, m in declared.items() if m.packing} == {"cpt"}
    assert declared["cpt"].loss_masking == "full" and not declared["cpt"].chat
    assert declared["kto"].forward_roles == (0,) and declared["kto"].auxiliary is not None


def test_an_unknown_method_is_a_usage_error_naming_the_methods(cli, train_project):
    bad = cli("train", "--method", "ppo", cwd=train_project.root)
    assert bad.exit_code == 2 and "invalid_train_override" in bad.stderr
    assert "unknown training method 'ppo'" in bad.stderr and "orpo" in bad.stderr
