"""A run refuses a base model whose licence forbids the declared use (unless overridden, which is
recorded), and exported versions reload with plain PEFT / transformers giving identical logits."""

from __future__ import annotations

import json

import pytest
import torch

from tuneloop.config import LicenceOverride
from tuneloop.errors import CheckFailed, InvalidInput
from tuneloop.models import ResolvedModel
from tuneloop.train import export_model, get_run, train


@pytest.fixture
def non_commercial_base(train_project, tiny_model_dir, monkeypatch):
    """The project's base is a catalog model whose licence forbids commercial use (weights: tiny)."""
    import tuneloop.models.resolve as resolve

    def fake_resolve(reference, project=None, progress=None):
        return ResolvedModel(reference, tiny_model_dir, "0" * 64, catalog_id="qwen2.5-3b-instruct")

    monkeypatch.setattr(resolve, "resolve_model", fake_resolve)
    train_project.config.model.base = "base:qwen2.5-3b-instruct"
    return train_project


def test_a_refused_licence_stops_the_run_before_anything_is_recorded(non_commercial_base):
    with pytest.raises(CheckFailed) as info:
        train(non_commercial_base)
    assert info.value.code == "licence_refused"
    from tuneloop.store import RunRecord

    with non_commercial_base.store.session() as session:
        assert session.query(RunRecord).count() == 0


def test_a_licence_override_is_recorded_with_the_run_and_version(non_commercial_base):
    non_commercial_base.config.model.licence_override = LicenceOverride(
        reason="Signed commercial agreement #42 with the licensor", approved_by="legal@acme"
    )
    result = train(non_commercial_base, overrides={"max_steps": 1})
    run = get_run(non_commercial_base, result.run_name)
    assert run.licence_override["overridden"] is True
    assert run.licence_override["override"] == {
        "reason": "Signed commercial agreement #42 with the licensor",
        "approved_by": "legal@acme",
    }
    from tuneloop.registry import get_model_version

    assert (
        get_model_version(non_commercial_base, result.model_version).lineage["licence"]["overridden"] is True
    )


def _logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits


def test_exported_adapter_and_merged_weights_reload_with_identical_logits(train_project, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneloop.models import load_model, resolve_model

    result = train(train_project, overrides={"max_steps": 3, "learning_rate": 0.05})
    loaded = load_model(resolve_model(result.model_version, train_project), dtype="float32", device="cpu")
    ids = loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Ticket 1: refund?"}], add_generation_prompt=True
    )
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    expected = _logits(loaded.model, ids)
    base_dir = train_project.resolve_path(train_project.config.model.base)
    base_logits = _logits(AutoModelForCausalLM.from_pretrained(base_dir), ids)
    assert not torch.allclose(expected, base_logits, atol=1e-4)  # the adapter changes the model

    adapter = export_model(train_project, result.model_version, tmp_path / "adapter", merged=False)
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= set(adapter.files)
    assert json.loads((adapter.output / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        base_dir
    )
    peft_model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_dir), adapter.output
    ).eval()
    torch.testing.assert_close(_logits(peft_model, ids), expected, rtol=0, atol=0)

    merged = export_model(train_project, result.model_version, tmp_path / "merged", merged=True)
    assert "model.safetensors" in merged.files and "adapter_config.json" not in merged.files
    plain = AutoModelForCausalLM.from_pretrained(merged.output).eval()
    torch.testing.assert_close(_logits(plain, ids), expected, rtol=1e-5, atol=1e-5)
    assert AutoTokenizer.from_pretrained(merged.output).chat_template == loaded.tokenizer.chat_template

    with pytest.raises(InvalidInput):
        export_model(train_project, result.model_version, tmp_path / "merged", merged=True)  # not empty
