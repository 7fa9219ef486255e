"""Which models an evaluation runs: the candidates and, for each, the baselines it is compared with.

A registered candidate (``support:3``) is compared with the foundation model it was fine-tuned from,
with the version it continued from when that is not the foundation (its parent), and with the model
behind ``<name>@production`` when that alias exists and points elsewhere. Deltas are first of all
against the model the candidate was trained from; the report shows every baseline when they differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuneloop.models import parse_model_ref

if TYPE_CHECKING:
    from tuneloop.project import Project

BASELINE_ROLES = ("parent", "foundation", "production")


@dataclass
class CandidatePlan:
    """A candidate and its baselines, role -> model reference (``foundation``, ``parent`` ...)."""

    reference: str
    model_version_id: int | None = None
    baselines: dict[str, str] = field(default_factory=dict)

    @property
    def trained_from(self) -> str | None:
        """The role of the model this candidate was trained from (parent, else foundation)."""
        for role in ("parent", "foundation"):
            if role in self.baselines:
                return role
        return None

    def primary_baseline(self) -> str | None:
        """The role shown first and used for the per-item diff."""
        for role in ("production", "parent", "foundation", *self.baselines):
            if role in self.baselines:
                return role
        return None


@dataclass
class EvaluationPlan:
    candidates: list[CandidatePlan]

    def models(self) -> list[str]:
        """Every distinct model reference to run, candidates first."""
        ordered: list[str] = []
        for plan in self.candidates:
            for reference in [plan.reference, *plan.baselines.values()]:
                if reference not in ordered:
                    ordered.append(reference)
        return ordered


def plan_candidate(
    project: Project | None,
    reference: str,
    *,
    explicit_baselines: list[str] | None = None,
    automatic: bool = True,
) -> CandidatePlan:
    """The baselines of one candidate, following the project's ``eval.baselines`` settings."""
    plan = CandidatePlan(reference)
    if project is not None and automatic:
        _add_registry_baselines(project, plan)
    for index, baseline in enumerate(explicit_baselines or []):
        if baseline != reference:
            plan.baselines[f"baseline{index + 1}" if index else "baseline"] = baseline
    return plan


def _add_registry_baselines(project: Project, plan: CandidatePlan) -> None:
    from tuneloop.registry import alias_target, get_model_version, parent_reference

    ref = parse_model_ref(plan.reference, project.root)
    if ref.kind not in ("version", "alias"):
        return
    info = get_model_version(project, ref)
    plan.model_version_id = info.id
    settings = project.config.eval.baselines
    if settings.foundation:
        plan.baselines["foundation"] = info.base_reference
    if settings.parent and info.parent_version_id is not None:
        plan.baselines["parent"] = parent_reference(project, info)
    if settings.production:
        production = alias_target(project, info.name, settings.production_alias)
        if production is not None and production.id != info.id:
            plan.baselines["production"] = production.reference


def plan_evaluation(
    project: Project | None,
    candidates: list[str],
    *,
    explicit_baselines: list[str] | None = None,
    automatic: bool = True,
) -> EvaluationPlan:
    return EvaluationPlan(
        [
            plan_candidate(project, c, explicit_baselines=explicit_baselines, automatic=automatic)
            for c in candidates
        ]
    )
