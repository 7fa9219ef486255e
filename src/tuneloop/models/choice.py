"""Choosing a base model: a ranked recommendation for a declared use, and one entry's full report.

:func:`recommend` keeps the models whose licence and context fit and ranks them cheapest to serve
first (``tuneloop models recommend``); :func:`describe_entry` gathers what ``tuneloop models show``
tells about one entry: its licence verdict for the project's use and its serving cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tuneloop.models.catalog import CatalogEntry, filter_entries, get_entry, load_catalog
from tuneloop.models.licence import LicenceDecision, UseDeclaration, check_licence
from tuneloop.models.serving_cost import (
    CostAssumptions,
    CostEstimate,
    compare_to_reference,
    estimate_cost_per_million_tokens,
)
from tuneloop.project import Project, config_of


class Recommendation(BaseModel):
    """A ranked candidate base model with the reasons it qualified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(ge=1)
    """1 is the cheapest qualifying model."""
    entry: CatalogEntry
    """The catalog entry."""
    usd_per_million_tokens: float
    """Estimated serving cost, the ranking key."""
    gpus_needed: int
    """GPUs one replica needs."""
    reasons: list[str]
    """Why the model qualified (licence, context, cost)."""
    licence: LicenceDecision
    """The licence decision for the declared use, with its conditions."""


def recommend(
    entries: list[CatalogEntry] | None = None,
    *,
    min_context: int | None = None,
    commercial: bool,
    monthly_active_users: int | None = None,
    max_params_b: float | None = None,
    require_chat_template: bool = True,
    assumptions: CostAssumptions = CostAssumptions(),
) -> list[Recommendation]:
    """Rank the base models that fit a declared use, cheapest to serve first.

    Objective: keep entries whose licence allows the declared use (:func:`check_licence` with
    ``commercial`` and ``monthly_active_users``), whose context window is at least ``min_context``,
    whose total parameters are at most ``max_params_b`` and, when ``require_chat_template``, whose
    tokenizer ships a chat template. Rank them by estimated inference cost per million tokens
    (:func:`estimate_cost_per_million_tokens`) ascending; break ties by larger context window, then
    fewer total parameters, then id. Quality is deliberately not scored: fine-tuning and
    ``tuneloop eval`` decide that; this picks the cheapest starting points worth trying.
    ``entries`` None means the whole catalog.
    """
    use = UseDeclaration(commercial=commercial, monthly_active_users=monthly_active_users)
    candidates = filter_entries(
        load_catalog() if entries is None else entries, max_params_b=max_params_b, min_context=min_context
    )
    scored = []
    for entry in candidates:
        decision = check_licence(entry, use)
        if not decision.allowed or (require_chat_template and not entry.tooling.chat_template):
            continue
        scored.append((entry, decision, estimate_cost_per_million_tokens(entry, assumptions)))
    scored.sort(key=lambda s: (s[2].usd_per_million_tokens, -s[0].context_window, s[0].params_b, s[0].id))
    return [
        Recommendation(
            rank=rank,
            entry=entry,
            usd_per_million_tokens=cost.usd_per_million_tokens,
            gpus_needed=cost.gpus_needed,
            reasons=_recommend_reasons(entry, decision, cost, min_context),
            licence=decision,
        )
        for rank, (entry, decision, cost) in enumerate(scored, start=1)
    ]


def _recommend_reasons(
    entry: CatalogEntry, decision: LicenceDecision, cost: CostEstimate, min_context: int | None
) -> list[str]:
    context = f"context {entry.context_window:,} tokens"
    if min_context is not None:
        context += f" ≥ required {min_context:,}"
    a = cost.assumptions
    return [
        *decision.reasons,
        context,
        f"~${cost.usd_per_million_tokens:.4f} per million tokens on {cost.gpus_needed}× {a.gpu} "
        f"(${a.gpu_hourly_usd:.2f}/h, {a.utilisation:.0%} utilisation)",
    ]


@dataclass(frozen=True)
class EntryReport:
    """One catalog entry with its licence verdict for the declared use and its serving cost."""

    entry: CatalogEntry
    cost: CostEstimate
    """Cost per million generated tokens."""
    monthly: dict[str, Any]
    """:func:`~tuneloop.models.serving_cost.compare_to_reference` at the asked monthly volume."""
    licence_check: LicenceDecision
    """The licence checked against the project's ``project.use`` (the defaults outside a project)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "cost": self.cost,
            "monthly": self.monthly,
            "licence_check": self.licence_check,
        }


def describe_entry(catalog_id: str, project: Project | None, *, tokens_per_month: float) -> EntryReport:
    """Everything ``tuneloop models show`` reports about ``catalog_id`` (``base:`` prefix accepted)."""
    entry = get_entry(catalog_id.removeprefix("base:"))
    return EntryReport(
        entry=entry,
        cost=estimate_cost_per_million_tokens(entry),
        monthly=compare_to_reference(entry, tokens_per_month),
        licence_check=check_licence(entry, config_of(project).project.use),
    )


__all__ = ["EntryReport", "Recommendation", "describe_entry", "recommend"]
