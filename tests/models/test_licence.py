"""Licence checks against a declared use: refusals, conditions and recorded overrides."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tuneloop.config import IntendedUse, LicenceOverride
from tuneloop.errors import CheckFailed, InvalidInput
from tuneloop.models import UseDeclaration, check_licence, enforce_licence, get_entry

OVERRIDE = LicenceOverride(reason="Signed commercial agreement with Alibaba Cloud", approved_by="legal@acme")


def test_apache_model_allows_commercial_use_with_conditions() -> None:
    decision = check_licence(get_entry("smollm2-135m-instruct"), UseDeclaration(commercial=True))
    assert decision.allowed
    assert decision.licence_id == "apache-2.0"
    assert decision.conditions == list(get_entry("smollm2-135m-instruct").licence.conditions)
    assert decision.source_url.startswith("https://")
    assert not decision.overridden


def test_distribution_adds_a_condition() -> None:
    entry = get_entry("gemma-3-4b-it")
    decision = check_licence(entry, UseDeclaration(distribution=True))
    assert decision.allowed
    assert len(decision.conditions) == len(entry.licence.conditions) + 1
    assert entry.licence.source_url in decision.conditions[-1]


def test_non_commercial_licence_refuses_commercial_use() -> None:
    entry = get_entry("qwen2.5-3b-instruct")
    refused = check_licence(entry, UseDeclaration(commercial=True))
    assert not refused.allowed
    assert "commercial" in refused.reasons[0]
    assert check_licence(entry, UseDeclaration(commercial=False)).allowed


def test_monthly_active_user_cap() -> None:
    llama = get_entry("llama-3.1-8b-instruct")
    over = check_licence(llama, UseDeclaration(monthly_active_users=800_000_000))
    assert not over.allowed
    assert "700,000,000" in over.reasons[0]
    assert check_licence(llama, UseDeclaration(monthly_active_users=700_000_000)).allowed
    unknown = check_licence(llama, UseDeclaration())
    assert unknown.allowed
    assert any("monthly_active_users" in r for r in unknown.reasons)
    qwen = get_entry("qwen2.5-72b-instruct")
    assert not check_licence(qwen, UseDeclaration(monthly_active_users=150_000_000)).allowed


def test_accepts_the_project_config_use() -> None:
    use = IntendedUse(commercial=True, monthly_active_users=900_000_000, distribution=False)
    assert UseDeclaration.from_config(use) == UseDeclaration(monthly_active_users=900_000_000)
    assert not check_licence(get_entry("llama-3.3-70b-instruct"), use).allowed


def test_enforce_raises_a_readable_refusal() -> None:
    entry = get_entry("qwen2.5-3b-instruct")
    with pytest.raises(CheckFailed) as info:
        enforce_licence(entry, UseDeclaration(commercial=True))
    err = info.value
    assert err.code == "licence_refused"
    assert "Qwen RESEARCH LICENSE AGREEMENT" in err.message
    assert entry.licence.source_url in err.message
    assert "model.licence_override" in err.message
    assert "approved_by" in err.message


def test_enforce_with_override_records_it() -> None:
    decision = enforce_licence(get_entry("qwen2.5-3b-instruct"), UseDeclaration(commercial=True), OVERRIDE)
    assert decision.allowed
    assert decision.overridden
    assert decision.override == OVERRIDE
    assert decision.reasons  # the refusal reasons stay on record next to the override


def test_enforce_accepts_a_duck_typed_override_and_validates_it() -> None:
    entry = get_entry("llama-3.1-70b-instruct")
    use = UseDeclaration(monthly_active_users=1_000_000_000)
    ducked = SimpleNamespace(reason="Separate licence signed with Meta in 2025", approved_by="cto")
    assert enforce_licence(entry, use, ducked).override == LicenceOverride(
        reason=ducked.reason, approved_by="cto"
    )
    with pytest.raises(InvalidInput) as info:
        enforce_licence(entry, use, SimpleNamespace(reason="ok", approved_by="cto"))
    assert info.value.code == "invalid_licence_override"


def test_override_on_an_allowed_model_is_not_recorded() -> None:
    decision = enforce_licence(get_entry("phi-4"), UseDeclaration(), OVERRIDE)
    assert decision.allowed
    assert not decision.overridden
    assert decision.override is None
