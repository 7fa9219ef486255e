"""Registry: versions are numbered per name, aliases move with an append-only history."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneloop.errors import InvalidInput, NotFound
from tuneloop.models import resolve_model
from tuneloop.project import Project
from tuneloop.registry import (
    AliasMoved,
    alias_history,
    alias_state,
    alias_target,
    attach_result,
    get_model_version,
    list_results,
    parent_reference,
    register_model_version,
    set_alias,
)


@pytest.fixture
def project(project_dir: Path) -> Project:
    return Project.open()


def _register(project: Project, model_dir: Path, **extra):
    return register_model_version(
        project,
        name="proj",
        kind="full",
        artifact_dir=model_dir,
        base_reference=str(model_dir),
        base_weights_sha256="0" * 64,
        **extra,
    )


def test_versions_are_numbered_and_resolve(project: Project, tiny_model_dir: Path) -> None:
    first = _register(project, tiny_model_dir)
    second = _register(project, tiny_model_dir, parent_version_id=first.id)
    assert (first.reference, second.reference) == ("proj:1", "proj:2")
    resolved = resolve_model("proj:2", project)
    assert resolved.merged_weights and (resolved.base_path / "config.json").is_file()
    assert parent_reference(project, get_model_version(project, "proj:2")) == "proj:1"
    assert parent_reference(project, first) == str(tiny_model_dir)


def test_alias_moves_are_logged_append_only(project: Project, tiny_model_dir: Path) -> None:
    first, second = _register(project, tiny_model_dir), _register(project, tiny_model_dir)
    assert alias_target(project, "proj", "production") is None
    set_alias(project, "proj:1", "production", reason="first release", actor="ana")
    set_alias(project, "proj:2", "production", action="promote", reason="better on holdout")
    assert alias_target(project, "proj", "production").id == second.id
    assert resolve_model("proj@production", project).label == "proj:2"
    events = alias_history(project, "proj", "production")
    assert [(e.action, e.model_version_id, e.previous_version_id) for e in events] == [
        ("set", first.id, None),
        ("promote", second.id, first.id),
    ]


def test_a_conditional_move_is_refused_when_the_alias_moved(project: Project, tiny_model_dir: Path) -> None:
    first, second = _register(project, tiny_model_dir), _register(project, tiny_model_dir)
    assert alias_state(project, "proj", "production").revision == 0
    set_alias(project, "proj:1", "production", expect_revision=0)
    with pytest.raises(AliasMoved):  # it exists now: revision 1
        set_alias(project, "proj:2", "production", expect_revision=0)
    set_alias(project, "proj:2", "production", action="promote", forced=True, details={"checks": []},
              expect_revision=1)  # fmt: skip
    state = alias_state(project, "proj", "production")
    assert (state.model_version_id, state.revision) == (second.id, 2)
    last = alias_history(project, "proj", "production")[-1]
    assert (last.previous_version_id, last.forced, last.details) == (first.id, True, {"checks": []})
    with pytest.raises(InvalidInput):
        set_alias(project, "proj:1", "../production")


def test_unknown_version_and_alias(project: Project) -> None:
    with pytest.raises(NotFound):
        resolve_model("proj:9", project)
    with pytest.raises(NotFound):
        resolve_model("proj@staging", project)


def test_results_attach_to_versions(project: Project, tiny_model_dir: Path) -> None:
    version = _register(project, tiny_model_dir)
    attach_result(project, kind="gate", model_reference="proj:1", summary={"ok": True}, model_version_id=version.id,
                  passed=True)  # fmt: skip
    (result,) = list_results(project, model_version_id=version.id)
    assert result.passed and result.kind == "gate"


def test_an_adapter_version_resolves_to_its_base_plus_its_adapter(
    project: Project, tiny_model_dir: Path, tmp_path: Path
) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    version = register_model_version(
        project, name="proj", kind="adapter", artifact_dir=adapter, base_reference=str(tiny_model_dir),
        base_weights_sha256="0" * 64,
    )  # fmt: skip
    resolved = resolve_model("proj:1", project)
    assert resolved.base_path == tiny_model_dir and not resolved.merged_weights
    assert resolved.adapter_path == project.artifacts.tree_path(version.artifact_sha256)
    assert resolved.lineage == {"version": "proj:1", "artifact": version.artifact_sha256}


def test_a_version_whose_weights_are_gone_is_reported(project: Project, tiny_model_dir: Path) -> None:
    import shutil

    version = _register(project, tiny_model_dir)
    shutil.rmtree(project.artifacts.tree_path(version.artifact_sha256))
    with pytest.raises(NotFound) as info:
        resolve_model("proj:1", project)
    assert info.value.code == "artifact_missing"


def test_the_registry_imports_nothing_from_models() -> None:
    """The registry returns plain records; resolving them to weights is tuneloop.models' job."""
    import ast

    import tuneloop.registry

    for path in Path(tuneloop.registry.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.startswith("tuneloop.models")], path.name
