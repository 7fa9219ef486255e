"""Fixtures for the training tests: a project on the tiny random model with a small, clean chat
dataset (and preference and raw-text variants), so a run takes seconds on one CPU thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import conversations, write_jsonl

PROJECT_YAML = """
project:
  name: tiny
model:
  base: {model}
  max_length: 512
data:
  train: [train.jsonl]
  holdout: [holdout.jsonl]
  embeddings: {{enabled: false}}
  volume: {{behaviour: {{fail_below: 10, warn_below: 10}}, per_category: {{fail_below: 1, warn_below: 1}}}}
train:
  max_steps: 6
  tokens_per_step: 64
  learning_rate: 0.003
  eval_after_train: false
  threads: 1
eval:
  forgetting_check: false
"""


@pytest.fixture
def train_project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """A project (cwd) training the tiny model on 40 conversations; returns the opened Project."""
    import torch

    from tuneloop.project import Project

    torch.set_num_threads(1)
    monkeypatch.delenv("TUNELOOP_DB_URL", raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tuneloop.yaml").write_text(PROJECT_YAML.format(model=tiny_model_dir))
    write_jsonl(root / "train.jsonl", conversations(40))
    write_jsonl(root / "holdout.jsonl", conversations(8, seed=99))
    monkeypatch.chdir(root)
    return Project.open(root)
