"""Pre-flight: refuses data with nothing to learn, catches a model that would never stop, estimates."""

from __future__ import annotations

import json
import shutil

import pytest

from tuneloop.data.records import Conversation, Message, SourceRef
from tuneloop.errors import CheckFailed
from tuneloop.train import train


def _masked(count: int) -> list[Conversation]:
    return [
        Conversation(
            messages=[
                Message(role="user", content=f"q{i}"),
                Message(role="assistant", content="a", weight=0),
            ],
            source=SourceRef(file="masked.jsonl", line=i + 1),
        )
        for i in range(count)
    ]


def test_all_masked_labels_are_refused_even_with_force(train_project):
    for force in (False, True):
        with pytest.raises(CheckFailed) as info:
            train(train_project, records=_masked(6), force=force)
        assert info.value.code == "preflight_failed" and "all_labels_masked" in info.value.message


def test_dry_run_shows_trained_tokens_estimates_and_derivations(train_project):
    result = train(train_project, dry_run=True, overrides={"max_steps": None, "epochs": 1.0})
    report = result.preflight
    assert result.status == "dry-run" and result.run_name is None and report.ok
    example = report.examples[0]
    assert "⟦" in example["marked"] and example["marked"].rstrip().endswith("<|im_end|>⟧")
    assert not any(trained and "<|im_start|>user" in text for text, trained in example["segments"])
    assert (
        report.end_of_turn["token"] == "<|im_end|>"
        and report.end_of_turn["turns_ending_with_end_of_turn"] == report.end_of_turn["trained_turns"]
    )
    assert report.estimates["memory_gib"]["total"] > 0 and report.estimates["seconds"] > 0
    assert "tokens_per_step" not in result.settings["derived"]  # set in the project's config
    assert result.settings["derived"]["micro_batch_tokens"].startswith(
        str(result.settings["micro_batch_tokens"])
    )
    with train_project.store.session() as session:
        from tuneloop.store import RunRecord

        assert session.query(RunRecord).count() == 0


def test_an_end_of_turn_token_that_is_not_a_generation_eos_is_flagged_and_fixed(
    train_project, tiny_model_dir, tmp_path
):
    model_dir = tmp_path / "eos-model"
    shutil.copytree(tiny_model_dir, model_dir)
    generation = json.loads((model_dir / "generation_config.json").read_text())
    generation["eos_token_id"] = 0
    (model_dir / "generation_config.json").write_text(json.dumps(generation))
    train_project.config.model.base = str(model_dir)
    result = train(train_project, overrides={"max_steps": 1})
    codes = {f.code for f in result.preflight.findings}
    assert "eos_mismatch" in codes
    from tuneloop.registry import get_model_version

    info = get_model_version(train_project, result.model_version)
    saved = json.loads(
        (train_project.artifacts.tree_path(info.artifact_sha256) / "generation_config.json").read_text()
    )
    assert saved["eos_token_id"] == [0, 2]


def test_a_template_that_never_closes_assistant_turns_is_refused(train_project):
    template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] }}"
        "{% if m['role'] != 'assistant' %}{{ '<|im_end|>\n' }}{% else %}{{ '\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    (train_project.root / "template.jinja").write_text(template)
    train_project.config.model.chat_template = "template.jinja"
    with pytest.raises(CheckFailed) as info:
        train(train_project, dry_run=True)
    assert "end_of_turn_not_trained" in info.value.message


def test_qlora_loads_the_base_in_4bit(tiny_model_dir):
    from tuneloop.config.train import TrainSection
    from tuneloop.models import ResolvedModel
    from tuneloop.train.modeling import load_for_training
    from tuneloop.train.settings import resolve_settings

    settings = resolve_settings(
        TrainSection(adapter="qlora"),
        device="cpu",
        model_dir=tiny_model_dir,
        max_length=128,
        catalog_targets=None,
    )
    loaded = load_for_training(
        ResolvedModel(str(tiny_model_dir), tiny_model_dir, "x"), settings, device="cpu", tokenizer=None
    )
    kinds = {type(m).__name__ for m in loaded.model.modules()}
    assert "Linear4bit" in kinds and loaded.trainable_parameters < loaded.total_parameters / 2
