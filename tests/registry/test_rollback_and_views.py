"""``registry rollback|history|list|show|diff`` and the actor."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import Lab
from tuneloop.deploy import rollback, rollback_target
from tuneloop.errors import InvalidInput, NotFound
from tuneloop.registry import (
    AliasEvent,
    alias_history,
    alias_target,
    attach_result,
    current_actor,
    describe_version,
    diff_versions,
    list_model_versions,
    register_model_version,
    set_alias,
)


def chain(lab: Lab, count: int) -> list[str]:
    """``count`` versions, each set on production in turn (no gates: these tests are about moves)."""
    versions = [lab.register() for _ in range(count)]
    for reference in versions:
        set_alias(lab.project, reference, "production", action="promote", reason=f"release {reference}",
                  actor="ana")  # fmt: skip
    return versions


def target(lab: Lab) -> str:
    found = alias_target(lab.project, "proj", "production")
    assert found is not None
    return found.reference


def test_rollback_walks_back_through_history_not_back_and_forth(lab: Lab) -> None:
    chain(lab, 3)
    assert rollback(lab.project, "proj", reason="latency").reference == "proj:2"
    statuses = [(v.reference, v.status) for v in list_model_versions(lab.project, "proj")]
    assert statuses == [("proj:1", "archived"), ("proj:2", "production"), ("proj:3", "archived")]
    assert rollback(lab.project, "proj", reason="still bad").reference == "proj:1"
    with pytest.raises(InvalidInput) as nothing:
        rollback(lab.project, "proj", reason="again")
    assert nothing.value.code == "nothing_to_roll_back" and target(lab) == "proj:1"
    events = alias_history(lab.project, "proj", "production")
    assert [(e.action, e.previous_version_id, e.model_version_id) for e in events[-2:]] == [
        ("rollback", 3, 2), ("rollback", 2, 1)
    ]  # fmt: skip


def test_rollback_to_a_named_version_and_then_back(lab: Lab, cli) -> None:
    chain(lab, 3)
    moved = cli("registry", "rollback", "proj", "--to", "proj:1", "--reason", "known good", "--json")
    assert moved.exit_code == 0 and json.loads(moved.stdout)["reference"] == "proj:1"
    assert target(lab) == "proj:1"
    assert cli("registry", "rollback", "proj@production", "--to", "proj:1", "--reason", "x").exit_code == 2
    assert cli("registry", "rollback", "proj", "--to", "other:1", "--reason", "x").exit_code == 2
    assert cli("registry", "rollback", "proj").exit_code == 2  # no reason


def test_undo_stack_rule() -> None:
    def event(action: str, new: int, previous: int | None) -> AliasEvent:
        return AliasEvent(
            0, "p", "production", action, new, previous, None, None, False, {}, datetime.now(UTC)
        )

    promote = [event("promote", 1, None), event("promote", 2, 1), event("promote", 3, 2)]
    assert rollback_target(promote) == 2
    assert rollback_target([*promote, event("rollback", 2, 3)]) == 1
    assert rollback_target([*promote, event("rollback", 1, 3)]) is None  # --to the first
    assert rollback_target([*promote, event("rollback", 2, 3), event("promote", 4, 2)]) == 2
    assert rollback_target([event("set", 1, None)]) is None


def test_rollback_refuses_a_target_whose_weights_are_gone(lab: Lab, tmp_path: Path) -> None:
    own = tmp_path / "weights"
    own.mkdir()
    (own / "model.safetensors").write_bytes(b"weights of v1 only")
    first = lab.register(artifact_dir=own)
    second = lab.register()
    for reference in (first, second):
        set_alias(lab.project, reference, "production")
    info = alias_history(lab.project, "proj")[0]
    shutil.rmtree(
        lab.project.artifacts.tree_path(describe_version(lab.project, first).version.artifact_sha256)
    )
    with pytest.raises(NotFound) as missing:
        rollback(lab.project, "proj", reason="incident")
    assert missing.value.code == "artifact_missing" and info.model_version_id == 1
    assert target(lab) == second


def test_history_shows_actor_reason_and_forced(lab: Lab, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    chain(lab, 2)
    monkeypatch.setenv("TUNELOOP_ACTOR", "oncall-bob")
    assert cli("registry", "rollback", "proj", "--reason", "errors up 3x").exit_code == 0
    shown = cli("registry", "history", "proj", "--alias", "production", "--json")
    events = json.loads(shown.stdout)["events"]
    assert [(e["event"]["action"], e["previous"], e["new"], e["event"]["actor"], e["event"]["reason"])
            for e in events] == [
        ("promote", None, "proj:1", "ana", "release proj:1"),
        ("promote", "proj:1", "proj:2", "ana", "release proj:2"),
        ("rollback", "proj:2", "proj:1", "oncall-bob", "errors up 3x"),
    ]  # fmt: skip
    table = cli("registry", "history", "proj@production")
    assert table.exit_code == 0 and "rollback" in table.stdout and "forced" in table.stdout


def test_the_actor_comes_from_the_environment_then_the_key_then_the_os(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import getpass

    monkeypatch.setenv("TUNELOOP_ACTOR", "ci-release")
    assert current_actor("key-1") == "ci-release"
    monkeypatch.delenv("TUNELOOP_ACTOR")
    assert current_actor("key-1") == "key-1"
    monkeypatch.setattr(getpass, "getuser", lambda: "maria")
    assert current_actor() == "maria"

    def no_user() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert current_actor() == "unknown"


def _versions_that_differ(lab: Lab, tmp_path: Path) -> None:
    lineage = {"run": "r1", "dataset_digest": "a" * 64, "dataset_version_id": None, "chat_template_sha256": "c" * 64,
               "settings": {"lr": 0.0002, "epochs": 3}}  # fmt: skip
    for index, (lr, digest, accuracy) in enumerate([(0.0002, "a" * 64, 0.5), (0.0001, "b" * 64, 0.75)], 1):
        info = register_model_version(
            lab.project, name="proj", kind="full", artifact_dir=lab.model_dir, base_reference=str(lab.model_dir),
            base_weights_sha256="0" * 64,
            lineage=lineage | {"dataset_digest": digest, "settings": {"lr": lr, "epochs": 3}, "run": f"r{index}"},
        )  # fmt: skip
        attach_result(
            lab.project, kind="gate", model_reference=info.reference, model_version_id=info.id, suite="support",
            summary={"primary_metric": "category_accuracy", "metrics": {"category_accuracy": accuracy},
                     "baselines": {"foundation": {"reference": str(lab.model_dir), "metrics": {}}}},
            passed=True,
        )  # fmt: skip


def test_diff_names_what_changed(lab: Lab, tmp_path: Path, cli) -> None:
    _versions_that_differ(lab, tmp_path)
    result = diff_versions(lab.project, "proj:1", "proj:2")
    assert [(c.key, c.before, c.after) for c in result.section("data")] == [
        ("dataset_digest", "a" * 64, "b" * 64)
    ]
    assert [(c.key, c.before, c.after) for c in result.section("settings")] == [
        ("settings.lr", 0.0002, 0.0001)
    ]
    assert [(c.key, c.before, c.after) for c in result.section("metrics")] == [
        ("gate:support:category_accuracy", 0.5, 0.75)
    ]
    shown = cli("registry", "diff", "proj:1", "proj:2")
    assert shown.exit_code == 0 and "settings.lr" in shown.stdout
    assert cli("registry", "diff", "proj:1", "proj:1").exit_code == 2


def test_list_and_show_name_lineage_results_and_aliases(lab: Lab, tmp_path: Path, cli) -> None:
    _versions_that_differ(lab, tmp_path)
    set_alias(lab.project, "proj:2", "production")
    listed = json.loads(cli("registry", "list", "--json").stdout)["versions"]
    assert [(v["reference"], v["aliases"], v["run"]) for v in listed] == [
        ("proj:1", [], "r1"), ("proj:2", ["production"], "r2")
    ]  # fmt: skip
    shown = json.loads(cli("registry", "show", "proj@production", "--json").stdout)["version"]
    assert shown["version"]["reference"] == "proj:2" and shown["aliases"] == ["production"]
    assert shown["chat_template_sha256"] == "c" * 64 and shown["dataset"]["digest"] == "b" * 64
    (result,) = shown["results"]
    assert (result["kind"], result["value"], result["compared_with"]) == (
        "gate", 0.75, {"foundation": str(lab.model_dir)}
    )  # fmt: skip
    table = cli("registry", "show", "proj")  # the newest version
    assert table.exit_code == 0 and "proj:2" in table.stdout and "Attached results" in table.stdout
    assert cli("registry", "show", "nosuch").exit_code == 2
    assert "proj:1" in cli("registry", "list").stdout
