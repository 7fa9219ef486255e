"""``tuneloop.models`` exports its API from the package, lazily, and defaults have one owner."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import tuneloop.models as models
from tuneloop.config import IntendedUse, ProjectConfig
from tuneloop.errors import InvalidInput
from tuneloop.project import Project, config_of


def test_every_export_is_the_object_its_module_defines() -> None:
    assert models.__all__ == sorted(models.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert set(models.__all__) == set(models._EXPORTS)
    for name in models.__all__:
        defining = importlib.import_module(models._EXPORTS[name])
        assert getattr(models, name) is getattr(defining, name), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        models.no_such_thing  # noqa: B018


def test_importing_the_package_loads_none_of_its_modules() -> None:
    code = (
        "import sys, tuneloop.models; "
        "print(sorted(m for m in sys.modules if m.startswith('tuneloop.models.') or m in ('torch', 'transformers')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_replaced_function_is_seen_through_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports are read from the defining module each time, so patching it there patches every user."""
    from tuneloop.models import resolve

    monkeypatch.setattr(resolve, "resolve_model", "patched")
    assert models.resolve_model == "patched"


def test_pull_refuses_a_registered_version() -> None:
    with pytest.raises(InvalidInput) as info:
        models.pull_base_model("proj:3", None)
    assert info.value.code == "not_a_base_model"


def test_the_declared_use_defaults_are_the_configs() -> None:
    assert models.UseDeclaration().model_dump() == IntendedUse().model_dump()


def test_config_of_gives_the_projects_config_or_the_defaults(tmp_path: Path) -> None:
    assert config_of(None) == ProjectConfig()
    project = Project(tmp_path, ProjectConfig.model_validate({"model": {"dtype": "float32"}}))
    assert config_of(project).model.dtype == "float32"
