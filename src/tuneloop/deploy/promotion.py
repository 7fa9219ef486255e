"""Gated promotion and one-command rollback of registry aliases (``registry promote|rollback``).

Promotion moves ``NAME@alias`` to a version only on evidence (see :func:`promotion_checks`):

- **evaluation gates**, for every suite ``tuneloop eval gate`` checks by default (``eval.default_suites``,
  else ``eval.suites``, plus ``builtin:general`` with ``eval.forgetting_check``): the version's newest
  ``gate`` result that (1) was measured on the suite's *current* digest, (2) compared the version
  with the exact version the production alias points at *now* (when it points somewhere) and (3) is
  newer than the last move of the alias being moved (and of the production alias), must have passed
  (or had no gate apply). A result measured against an older production version, on another suite
  digest, or before the alias last moved does not count. "The production alias" is
  ``eval.baselines.production_alias``, the alias evaluation compares candidates with: for a promote to
  ``production`` it is the moved alias itself; a promote to ``staging`` or ``canary`` is measured
  against production too (no gate run ever compares with staging);
- the **red-team gate**: the version's newest ``redteam-gate`` result passed.

``force=True`` (with a reason) moves the alias anyway and records ``forced`` with the failed checks.
The checks and the move are tied by the alias's revision: if another process moves the alias in
between, the checks run again against the new target (up to :data:`ATTEMPTS` times).

Rollback (the emergency path) checks no gates, only that the target's weights are in the store. It
undoes forward moves in reverse order, like an undo stack (:func:`rollback_target`): promote v1, v2,
v3; rollback -> v2; rollback -> v1; a third rollback has nothing left. ``to`` names the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tuneloop.errors import InvalidInput, NotFound, TuneloopError
from tuneloop.evaluate.defaults import default_suite_references
from tuneloop.evaluate.suites import load_suite
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.registry import (
    AliasEvent,
    AliasMoved,
    AliasState,
    EvaluationInfo,
    ModelVersionInfo,
    alias_history,
    alias_state,
    as_utc,
    check_alias_name,
    current_actor,
    get_model_version,
    get_model_version_by_id,
    list_results,
    set_alias,
)

ATTEMPTS = 3
"""How often promotion re-checks after losing the alias to a concurrent move."""


@dataclass(frozen=True)
class Check:
    """One piece of evidence promotion requires."""

    name: str
    """``eval-gate:<suite>`` or ``redteam-gate``."""
    passed: bool
    reason: str
    result_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "reason": self.reason, "result_id": self.result_id}


@dataclass
class PromotionResult:
    reference: str
    name: str
    alias: str
    previous: str | None
    """Where the alias pointed before (None: it did not exist)."""
    checks: list[Check] = field(default_factory=list)
    promoted: bool = False
    forced: bool = False
    already: bool = False
    """The alias already pointed at the version: nothing was done."""
    actor: str | None = None
    reason: str | None = None

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def passed(self) -> bool:
        """The alias points at the version now: it moved with its evidence, was forced, or was there."""
        return self.promoted or self.already

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference, "alias": f"{self.name}@{self.alias}", "previous": self.previous,
            "passed": self.passed, "promoted": self.promoted, "forced": self.forced, "already": self.already,
            "actor": self.actor, "reason": self.reason, "checks": [c.to_dict() for c in self.checks],
            "failed": [c.name for c in self.failed],
        }  # fmt: skip


@dataclass
class RollbackResult:
    name: str
    alias: str
    previous: str
    reference: str
    """The version the alias points at now."""
    actor: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": f"{self.name}@{self.alias}", "previous": self.previous, "reference": self.reference,
            "actor": self.actor, "reason": self.reason,
        }  # fmt: skip


@dataclass(frozen=True)
class Yardstick:
    """What a gate result must have been measured against to count for a move now."""

    alias: str
    """The alias the evaluation compares candidates with (``eval.baselines.production_alias``)."""
    target: ModelVersionInfo | None
    """The version behind it now (None: it does not exist, nothing to compare with)."""
    since: datetime | None
    """The last move of the alias being moved or of the compared alias: older results do not count."""
    compares_production: bool
    """``eval.baselines.production``: whether gate runs compare with that alias at all."""


def yardstick(project: Project, name: str, state: AliasState) -> Yardstick:
    """For a move of ``state``'s alias: the version gates must have compared with, and since when."""
    settings = project.config.eval.baselines
    compared = state if state.alias == settings.production_alias else alias_state(
        project, name, settings.production_alias
    )  # fmt: skip
    target = (
        get_model_version_by_id(project, compared.model_version_id) if compared.model_version_id else None
    )
    moves = [m for m in (state.updated_at, compared.updated_at) if m is not None]
    return Yardstick(settings.production_alias, target, max(moves, default=None), settings.production)


def _eval_check(project: Project, info: ModelVersionInfo, suite_ref: str, point: Yardstick) -> Check:
    try:
        loaded = load_suite(suite_ref, project)
    except TuneloopError as exc:
        return Check(f"eval-gate:{suite_ref}", False, f"suite cannot be loaded: {exc}")
    name, digest = f"eval-gate:{loaded.suite.name}", loaded.digest
    results = [
        r
        for r in list_results(project, kind="gate", model_version_id=info.id)
        if r.suite == loaded.suite.name
    ]
    if not results:
        return Check(name, False, f"no gate result; run `tuneloop eval gate --model {info.reference}`")
    why_not: list[str] = []
    for result in reversed(results):  # newest first
        problem = _stale(result, digest, point)
        if problem is None:
            return _judged(name, result)
        why_not.append(f"#{result.id} {problem}")
    return Check(
        name, False,
        f"no current gate result ({why_not[0]}); run `tuneloop eval gate --model {info.reference}` again",
    )  # fmt: skip


def _stale(result: EvaluationInfo, digest: str, point: Yardstick) -> str | None:
    """Why ``result`` is no evidence for a move now (None: it is)."""
    if result.summary.get("suite_digest") != digest:
        return f"was measured on suite digest {result.summary.get('suite_digest')}, the suite is now {digest}"
    if point.target is not None:
        compared = {b.get("reference") for b in (result.summary.get("baselines") or {}).values()}
        if point.target.reference not in compared:
            shown = ", ".join(sorted(str(c) for c in compared)) or "nothing"
            hint = "" if point.compares_production else "; eval.baselines.production is off in tuneloop.yaml"
            return (
                f"compared with {shown}, not with {point.target.reference} "
                f"(where @{point.alias} points now){hint}"
            )
    if point.since is not None and as_utc(result.created_at) <= point.since:
        return "is older than the alias's last move"
    return None


def _judged(name: str, result: EvaluationInfo) -> Check:
    counts = result.summary.get("gates") or {}
    if result.passed is None:
        return Check(name, True, f"#{result.id}: no gate applies to this suite", result.id)
    if result.passed:
        return Check(name, True, f"#{result.id}: {counts.get('passed', 0)} gates passed", result.id)
    return Check(name, False, f"#{result.id}: {counts.get('failed', '?')} gates failed", result.id)


def _redteam_check(project: Project, info: ModelVersionInfo) -> Check:
    results = list_results(project, kind="redteam-gate", model_version_id=info.id)
    if not results:
        return Check(
            "redteam-gate", False, f"no red-team gate; run `tuneloop redteam gate --model {info.reference}`"
        )
    newest = results[-1]
    if newest.passed:
        return Check("redteam-gate", True, f"#{newest.id}: passed", newest.id)
    rows = (newest.summary.get("gate") or {}).get("categories") or []
    failing = [str(r.get("category")) for r in rows if not r.get("passed")]
    return Check(
        "redteam-gate", False, f"#{newest.id}: failed ({', '.join(failing) or 'see the report'})", newest.id
    )


def promotion_checks(project: Project, info: ModelVersionInfo, state: AliasState) -> list[Check]:
    """Every check a move of ``state``'s alias to ``info`` needs (see the module docs)."""
    point = yardstick(project, info.name, state)
    suites = default_suite_references(project)
    checks = [_eval_check(project, info, suite, point) for suite in suites]
    if not suites:
        checks.append(
            Check("eval-gate", False, "no eval suites to gate on: set eval.suites in tuneloop.yaml")
        )
    return [*checks, _redteam_check(project, info)]


def promote(
    project: Project,
    reference: str,
    alias: str = "production",
    *,
    reason: str | None = None,
    force: bool = False,
    actor: str | None = None,
    progress: Progress = SILENT,
) -> PromotionResult:
    """Move ``NAME@alias`` to ``reference`` when every promotion check passes (or ``force``, which
    needs a ``reason``); a refusal is a result with ``passed`` False and each failed check named."""
    if force and not (reason or "").strip():
        raise InvalidInput("reason_required", "--force needs --reason: say why the gates are overridden")
    info = get_model_version(project, reference)
    check_alias_name(info.name, alias)
    who = actor or current_actor()
    for _ in range(ATTEMPTS):
        state = alias_state(project, info.name, alias)
        previous = (
            get_model_version_by_id(project, state.model_version_id).reference
            if state.model_version_id
            else None
        )
        result = PromotionResult(info.reference, info.name, alias, previous, actor=who, reason=reason)
        if state.model_version_id == info.id:
            result.already = True
            return result
        result.checks = promotion_checks(project, info, state)
        if result.failed and not force:
            return result
        result.forced = bool(result.failed)
        details = {"checks": [c.to_dict() for c in result.checks], "revision": state.revision + 1}
        try:
            set_alias(project, info.reference, alias, action="promote", reason=reason, actor=who,
                      forced=result.forced, details=details, expect_revision=state.revision)  # fmt: skip
        except AliasMoved:
            progress.info(f"{info.name}@{alias} moved meanwhile; checking again")
            continue
        result.promoted = True
        return result
    raise AliasMoved("alias_contended", f"{info.name}@{alias} kept moving while promoting; try again")


def rollback_target(events: list[AliasEvent]) -> int | None:
    """The version a plain rollback returns to: forward moves form an undo stack, a rollback pops it
    (to its target), so successive rollbacks walk back through history instead of ping-ponging.
    A rollback to a version not on the stack (``--to`` an older version) counts as a forward move."""
    stack: list[int] = []
    for event in events:
        version = event.model_version_id
        if version is None:
            continue
        if event.action == "rollback" and version in stack:
            while stack[-1] != version:
                stack.pop()
        else:
            stack.append(version)
    return stack[-2] if len(stack) >= 2 else None


def _rollback_version(
    project: Project, name: str, alias: str, to: str | None, state: AliasState
) -> ModelVersionInfo:
    if to is not None:
        target = get_model_version(project, to)
        if target.name != name:
            raise InvalidInput("wrong_model", f"--to {to} is a version of '{target.name}', not of '{name}'")
        if target.id == state.model_version_id:
            raise InvalidInput("already_there", f"{name}@{alias} already points at {target.reference}")
        return target
    found = rollback_target(alias_history(project, name, alias))
    if found is None:
        raise InvalidInput(
            "nothing_to_roll_back", f"{name}@{alias} has no earlier target to roll back to; use --to NAME:V"
        )
    return get_model_version_by_id(project, found)


def rollback(
    project: Project,
    name: str,
    alias: str = "production",
    *,
    to: str | None = None,
    reason: str,
    actor: str | None = None,
    progress: Progress = SILENT,
) -> RollbackResult:
    """Move ``NAME@alias`` back (see :func:`rollback_target`) or to ``to``; no gates, but the target's
    weights must be in the artifact store. Raises :class:`AliasMoved` if the alias moved meanwhile."""
    if not (reason or "").strip():
        raise InvalidInput("reason_required", "a rollback needs --reason")
    check_alias_name(name, alias)
    state = alias_state(project, name, alias)
    if state.model_version_id is None:
        raise NotFound("unknown_alias", f"no alias '{name}@{alias}'; see `tuneloop registry list`")
    current = get_model_version_by_id(project, state.model_version_id)
    target = _rollback_version(project, name, alias, to, state)
    if not project.artifacts.tree_path(target.artifact_sha256).is_dir():
        raise NotFound(
            "artifact_missing",
            f"the weights of {target.reference} ({target.artifact_sha256[:12]}) are missing from the store",
        )
    who = actor or current_actor()
    details = {"from": current.reference, "to": target.reference, "named": to is not None}
    set_alias(project, target.reference, alias, action="rollback", reason=reason, actor=who, details=details,
              expect_revision=state.revision)  # fmt: skip
    return RollbackResult(name, alias, current.reference, target.reference, who, reason)
