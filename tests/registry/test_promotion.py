"""``registry promote``: gates against the alias's current target, the red-team gate, --force, no-ops.

The evidence is made by the real ``evaluate.gate`` and ``redteam.gate`` on registered versions of a
tiny model whose answers are scripted (conftest's ``Lab``).
"""

from __future__ import annotations

import json

import pytest

from conftest import Lab
from tuneloop.deploy import promote
from tuneloop.errors import InvalidInput
from tuneloop.registry import alias_history, alias_target, set_alias


def failed_names(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.name for c in result.failed]


def test_a_version_with_both_gates_passed_is_promoted_and_recorded(lab: Lab) -> None:
    v1 = lab.gated(lab.register())
    result = promote(lab.project, v1, reason="first release")
    assert result.passed and result.promoted and not result.forced and result.previous is None
    assert [c.name for c in result.checks] == ["eval-gate:support", "redteam-gate"]
    (event,) = alias_history(lab.project, "proj", "production")
    assert (event.action, event.actor, event.reason, event.forced) == (
        "promote",
        "ana",
        "first release",
        False,
    )
    assert [c["name"] for c in event.details["checks"]] == ["eval-gate:support", "redteam-gate"]


def test_a_version_that_failed_its_gate_is_refused(lab: Lab, cli) -> None:
    bad = lab.register(good=False)
    assert lab.eval_gate(bad) is False and lab.redteam_gate(bad)
    result = promote(lab.project, bad, reason="try")
    assert not result.passed and failed_names(result) == ["eval-gate:support"]
    assert "gates failed" in result.failed[0].reason
    refused = cli("registry", "promote", bad, "--reason", "try", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["failed"] == ["eval-gate:support"]
    assert alias_target(lab.project, "proj", "production") is None
    assert alias_history(lab.project, "proj") == []


def test_a_gate_measured_against_an_older_production_version_does_not_count(lab_on_each_store: Lab) -> None:
    lab = lab_on_each_store
    v1 = lab.gated(lab.register())
    assert promote(lab.project, v1).promoted
    v2, v3 = lab.register(), lab.register()
    lab.gated(v2)
    lab.gated(v3)  # compared with proj:1, production at the time
    assert promote(lab.project, v2, reason="better").promoted
    stale = promote(lab.project, v3, reason="even better")
    assert not stale.passed and failed_names(stale) == ["eval-gate:support"]
    assert "not with proj:2" in stale.failed[0].reason
    assert lab.eval_gate(v3)  # measured again, now against proj:2
    assert promote(lab.project, v3, reason="even better").promoted


def test_a_gate_older_than_the_alias_last_move_does_not_count(lab: Lab) -> None:
    v1, v2 = lab.gated(lab.register()), lab.register()
    assert promote(lab.project, v1).promoted
    lab.gated(v2)  # against proj:1
    assert promote(lab.project, v2).promoted
    from tuneloop.deploy import rollback

    rollback(lab.project, "proj", reason="incident")  # back on proj:1, which v2's gate compared with
    again = promote(lab.project, v2)
    assert (
        failed_names(again) == ["eval-gate:support"]
        and "older than the alias's last move" in again.failed[0].reason
    )


def test_a_gate_from_another_suite_digest_does_not_count(lab: Lab) -> None:
    v1 = lab.gated(lab.register())
    suite = lab.project.root / "evals" / "support.yaml"
    suite.write_text(suite.read_text().replace("max_new_tokens: 8", "max_new_tokens: 9"))
    result = promote(lab.project, v1)
    assert failed_names(result) == ["eval-gate:support"] and "suite digest" in result.failed[0].reason


def test_without_a_red_team_gate_promotion_is_refused(lab: Lab) -> None:
    v1 = lab.register()
    assert lab.eval_gate(v1)
    result = promote(lab.project, v1)
    assert (
        failed_names(result) == ["redteam-gate"] and "redteam gate --model proj:1" in result.failed[0].reason
    )
    assert lab.redteam_gate(v1, safe=False) is False
    unsafe = promote(lab.project, v1)
    assert failed_names(unsafe) == ["redteam-gate"] and "harmful" in unsafe.failed[0].reason


def test_force_needs_a_reason_and_is_recorded_with_the_failed_checks(lab: Lab, cli) -> None:
    v1 = lab.register(good=False)
    with pytest.raises(InvalidInput):
        promote(lab.project, v1, force=True)
    assert cli("registry", "promote", v1, "--force", "--json").exit_code == 2
    result = promote(lab.project, v1, force=True, reason="hotfix, gates rerun tomorrow")
    assert (
        result.passed and result.forced and set(failed_names(result)) == {"eval-gate:support", "redteam-gate"}
    )
    (event,) = alias_history(lab.project, "proj", "production")
    assert event.forced and event.reason == "hotfix, gates rerun tomorrow"
    assert sorted(c["name"] for c in event.details["checks"] if not c["passed"]) == [
        "eval-gate:support", "redteam-gate"
    ]  # fmt: skip


def test_promoting_the_current_target_is_a_no_op(lab: Lab, cli) -> None:
    v1 = lab.gated(lab.register())
    assert promote(lab.project, v1).promoted
    again = promote(lab.project, v1)
    assert again.already and again.passed and not again.promoted
    shown = cli("registry", "promote", v1)
    assert shown.exit_code == 0 and "already points at proj:1" in shown.stdout
    assert len(alias_history(lab.project, "proj")) == 1


def test_the_promote_verb_moves_the_alias(lab: Lab, cli) -> None:
    v1 = lab.gated(lab.register())
    done = cli("registry", "promote", v1, "--alias", "staging", "--reason", "try it")
    assert done.exit_code == 0 and "promoted" in done.stdout
    assert alias_target(lab.project, "proj", "staging").reference == v1


def test_other_aliases_are_measured_against_production(lab: Lab, cli) -> None:
    v1, v2 = lab.gated(lab.register()), lab.register()
    assert promote(lab.project, v1).promoted
    set_alias(lab.project, v1, "staging")
    lab.gated(v2)  # against proj:1, production
    assert promote(lab.project, v2, "canary", reason="10% of traffic").promoted
    assert promote(lab.project, v2, "staging").promoted  # its gate compared with production, not staging
    assert cli("registry", "promote", v2, "--alias", "../prod").exit_code == 2
