"""Check a base model's licence against the project's declared use, and enforce the result.

The project declares how its model will be used (``project.use`` in ``tuneloop.yaml``); each catalog
entry records what its licence permits. :func:`check_licence` compares the two and explains the
outcome; :func:`enforce_licence` turns a refusal into a :class:`~tuneloop.errors.CheckFailed` unless
the project records an explicit, named override (``model.licence_override``).

The check is deliberately narrow: it refuses only on facts it can test (commercial use, a
monthly-active-user cap) and passes every other licence duty on as a condition to show the user.
It is not legal advice; the decision keeps the licence's source URL so a reviewer can read the text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from tuneloop.config.model import LicenceOverride
from tuneloop.config.project import IntendedUse
from tuneloop.errors import CheckFailed, InvalidInput, Location

if TYPE_CHECKING:
    from tuneloop.models.catalog import CatalogEntry

OVERRIDE_HINT = (
    "To use it anyway, set model.licence_override with a reason and approved_by in tuneloop.yaml; "
    "the override is recorded with every run."
)


class IntendedUseLike(Protocol):
    """Anything with the three fields of ``tuneloop.config.IntendedUse`` (read-only is enough)."""

    @property
    def commercial(self) -> bool: ...
    @property
    def monthly_active_users(self) -> int | None: ...
    @property
    def distribution(self) -> bool: ...


class OverrideLike(Protocol):
    """Anything with the two fields of ``tuneloop.config.LicenceOverride`` (read-only is enough)."""

    @property
    def reason(self) -> str: ...
    @property
    def approved_by(self) -> str: ...


class UseDeclaration(IntendedUse):
    """How the fine-tuned model will be used: ``project.use`` (``tuneloop.config.IntendedUse``), frozen.

    The fields and their defaults are IntendedUse's, so a default use is declared in one place.
    """

    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_config(cls, use: IntendedUseLike) -> UseDeclaration:
        """Build a declaration from ``tuneloop.config.IntendedUse`` or any object with the same fields."""
        if isinstance(use, UseDeclaration):
            return use
        return cls(
            commercial=use.commercial,
            monthly_active_users=use.monthly_active_users,
            distribution=use.distribution,
        )


class LicenceDecision(BaseModel):
    """The outcome of checking one catalog entry's licence against a declared use."""

    model_config = ConfigDict(extra="forbid")

    catalog_id: str
    """The catalog entry checked."""
    licence_id: str
    """The licence's id (SPDX where one exists)."""
    licence_name: str
    """The licence's own title."""
    allowed: bool
    """True when the declared use is permitted (possibly with conditions) or an override was recorded."""
    reasons: list[str]
    """Why the use is refused, or, when allowed, the facts the decision rests on."""
    conditions: list[str]
    """Duties that come with the licence and the declared use; show them to the user."""
    source_url: str
    """Where the licence text or model card can be read."""
    overridden: bool = False
    """True when the licence check failed and ``override`` allowed the use anyway."""
    override: LicenceOverride | None = None
    """The recorded override (reason and approver); the caller stores it with the run."""


def check_licence(entry: CatalogEntry, use: IntendedUseLike) -> LicenceDecision:
    """Compare ``entry``'s licence with the declared ``use``.

    Refused when the use is commercial and the licence forbids commercial use, or when the declared
    monthly active users exceed the licence's cap. Otherwise allowed, with the licence's conditions
    (plus a redistribution reminder when ``use.distribution`` is set). An undeclared user count never
    refuses, but the reasons say that the cap was not checked.
    """
    declared = UseDeclaration.from_config(use)
    licence = entry.licence
    refusals = _refusals(entry, declared)
    return LicenceDecision(
        catalog_id=entry.id,
        licence_id=licence.id,
        licence_name=licence.name,
        allowed=not refusals,
        reasons=refusals or _grounds(entry, declared),
        conditions=_conditions(entry, declared),
        source_url=licence.source_url,
    )


def enforce_licence(
    entry: CatalogEntry,
    use: IntendedUseLike,
    override: OverrideLike | None = None,
) -> LicenceDecision:
    """Check the licence and raise when it refuses the declared use and no override is given.

    With an ``override`` (``tuneloop.config.LicenceOverride`` or any object with ``reason`` and
    ``approved_by``) a refused decision is returned with ``allowed=True``, ``overridden=True`` and the
    override recorded. An override on an allowed decision is ignored: nothing needed overriding.

    Raises:
        CheckFailed: ``licence_refused`` when refused and no override is given.
        InvalidInput: ``invalid_licence_override`` when the override lacks a usable reason or approver.
    """
    decision = check_licence(entry, use)
    if decision.allowed:
        return decision
    if override is None:
        raise CheckFailed("licence_refused", _refusal_message(decision), Location(field="model.base"))
    recorded = _as_override(override)
    return decision.model_copy(update={"allowed": True, "overridden": True, "override": recorded})


def _refusals(entry: CatalogEntry, use: UseDeclaration) -> list[str]:
    licence = entry.licence
    refusals: list[str] = []
    if use.commercial and not licence.commercial_use:
        refusals.append(f"{licence.name} does not permit commercial use, and the project declares it")
    cap = licence.max_monthly_active_users
    if cap is not None and use.monthly_active_users is not None and use.monthly_active_users > cap:
        refusals.append(
            f"the project declares {use.monthly_active_users:,} monthly active users; "
            f"{licence.name} requires a separate licence above {cap:,}"
        )
    return refusals


def _grounds(entry: CatalogEntry, use: UseDeclaration) -> list[str]:
    licence = entry.licence
    purpose = "commercial" if use.commercial else "non-commercial"
    grounds = [f"{licence.name} permits {purpose} use"]
    cap = licence.max_monthly_active_users
    if cap is not None:
        if use.monthly_active_users is None:
            grounds.append(
                f"the licence caps use at {cap:,} monthly active users; set "
                "project.use.monthly_active_users to have this checked"
            )
        else:
            grounds.append(f"{use.monthly_active_users:,} monthly active users is within the {cap:,} cap")
    return grounds


def _conditions(entry: CatalogEntry, use: UseDeclaration) -> list[str]:
    conditions = list(entry.licence.conditions)
    if use.distribution:
        # Every licence in the catalog attaches its duties to redistribution; say so explicitly
        # because shipping weights is where a missing notice becomes a breach.
        conditions.append(
            f"Distribution declared: ship the licence text ({entry.licence.source_url}) and its "
            "required notices with the weights or product"
        )
    return conditions


def _refusal_message(decision: LicenceDecision) -> str:
    why = "; ".join(decision.reasons)
    return (
        f"base model '{decision.catalog_id}' is refused under {decision.licence_name} "
        f"({decision.licence_id}): {why}. Licence: {decision.source_url}. {OVERRIDE_HINT}"
    )


def _as_override(override: OverrideLike) -> LicenceOverride:
    if isinstance(override, LicenceOverride):
        return override
    try:
        return LicenceOverride(reason=override.reason, approved_by=override.approved_by)
    except (AttributeError, ValidationError) as exc:
        raise InvalidInput(
            "invalid_licence_override",
            f"model.licence_override needs a reason (10+ characters) and approved_by: {exc}",
            Location(field="model.licence_override"),
        ) from exc


__all__ = [
    "IntendedUseLike",
    "LicenceDecision",
    "OverrideLike",
    "UseDeclaration",
    "check_licence",
    "enforce_licence",
]
