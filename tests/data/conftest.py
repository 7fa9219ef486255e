"""Fixtures of the data-stage tests: a project whose base model is the tiny test model."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> Path:
    """A project (cwd) whose model.base is the tiny model, so template checks run in milliseconds."""
    monkeypatch.delenv("TUNELOOP_DB_URL", raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tuneloop.yaml").write_text(
        f"project:\n  name: proj\nmodel:\n  base: {tiny_model_dir}\n  max_length: 2048\n"
        "data:\n  embeddings:\n    enabled: false\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(root)
    return root
