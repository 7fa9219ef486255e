"""Acceptance on the real bundled model: a short LoRA SFT of SmolLM2-135M on the support example's
data lowers the holdout loss and trains the adapter (the eval stage measures behaviour change)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support"


@pytest.mark.slow
def test_short_sft_of_the_bundled_model_lowers_holdout_loss(bundled_model_dir, tmp_path, monkeypatch):
    import torch

    from tuneloop.data import load_records
    from tuneloop.project import Project
    from tuneloop.registry import get_model_version
    from tuneloop.train import get_run, metric_series, train

    torch.set_num_threads(2)
    root = tmp_path / "support"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".tuneloop"))
    monkeypatch.chdir(root)
    project = Project.open(root)
    records = load_records([root / "train.jsonl"])[:12]
    holdout = load_records([root / "holdout.jsonl"])[:4]
    result = train(
        project,
        records=records,
        holdout_records=holdout,
        no_eval=True,
        overrides={"max_steps": 6, "tokens_per_step": 100, "learning_rate": 1e-3, "eval_every_steps": 6},
    )
    series = metric_series(project, get_run(project, result.run_name).id)
    eval_loss = dict(series["eval_loss"])
    assert eval_loss[6] < eval_loss[0] - 0.1, eval_loss
    losses = [v for _, v in series["loss"]]
    assert sum(losses[-2:]) < sum(losses[:2])
    info = get_model_version(project, result.model_version)
    weights = load_file(project.artifacts.tree_path(info.artifact_sha256) / "adapter_model.safetensors")
    lora_b = [t for n, t in weights.items() if "lora_B" in n]
    assert len(lora_b) == 30 * 7 and all(t.abs().sum() > 0 for t in lora_b)
    assert info.lineage["base_reference"] == "base:smollm2-135m-instruct"
