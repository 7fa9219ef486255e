"""Fixtures for red-team tests: a project with a registered tiny candidate whose parent is another tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def second_tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny random model (different weights), used as a fine-tuned candidate."""
    from tuneloop.testing import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny2") / "model", seed=1)


@pytest.fixture
def registered_candidate(project_dir: Path, tiny_model_dir: Path, second_tiny_model_dir: Path) -> str:
    """``proj:1``: full weights registered over the tiny base model (its baseline)."""
    from tuneloop.project import Project
    from tuneloop.registry import register_model_version

    project = Project.open(project_dir)
    info = register_model_version(
        project, name="proj", kind="full", artifact_dir=second_tiny_model_dir,
        base_reference=str(tiny_model_dir), base_weights_sha256="0" * 64,
    )  # fmt: skip
    return info.reference
