"""The packaged base-model catalog: data facts, look-up, cost formula, filters and recommendations."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tuneloop.errors import InvalidInput, NotFound
from tuneloop.models import (
    REFERENCE_MODEL_ID,
    CatalogEntry,
    CostAssumptions,
    compare_to_reference,
    estimate_cost_per_million_tokens,
    filter_entries,
    get_entry,
    load_catalog,
    monthly_cost,
    parse_catalog,
    recommend,
    render_markdown_table,
)

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
TABLE_START = "<!-- catalog-table:start -->"
TABLE_END = "<!-- catalog-table:end -->"


@pytest.fixture(scope="module")
def catalog() -> list[CatalogEntry]:
    return load_catalog()


def _with(entry: CatalogEntry, **changes: object) -> CatalogEntry:
    """A validated copy of ``entry`` with ``changes`` applied (entries are frozen)."""
    return CatalogEntry.model_validate({**entry.model_dump(), **changes})


# --- the data file ----------------------------------------------------------------------------------


def test_catalog_has_enough_unique_slug_ids(catalog: list[CatalogEntry]) -> None:
    ids = [e.id for e in catalog]
    assert len(ids) >= 15
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.-]*", i) for i in ids)


def test_every_entry_has_an_https_source_url(catalog: list[CatalogEntry]) -> None:
    for entry in catalog:
        assert entry.licence.source_url.startswith("https://"), entry.id
        assert len(entry.licence.source_url) > len("https://"), entry.id


def test_every_entry_is_internally_consistent(catalog: list[CatalogEntry]) -> None:
    for entry in catalog:
        assert entry.active_params_b <= entry.params_b, entry.id
        assert entry.tooling.lora_targets, entry.id
        assert entry.licence.conditions, entry.id
        if not entry.licence.commercial_use:
            assert entry.licence.max_monthly_active_users is None, entry.id


def test_bundled_smollm2_entry(catalog: list[CatalogEntry]) -> None:
    entry = get_entry("smollm2-135m-instruct")
    assert entry.bundled
    assert entry.hf_repo == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert entry.licence.id == "apache-2.0"
    assert entry.context_window == 8192
    assert entry.architecture == "LlamaForCausalLM"
    assert entry.tooling.end_of_turn_token == "<|im_end|>"
    assert [e.id for e in catalog if e.bundled] == ["smollm2-135m-instruct"]


def test_llama_3_1_8b_facts() -> None:
    entry = get_entry("llama-3.1-8b-instruct")
    assert entry.context_window == 131072
    assert entry.licence.id == "llama3.1"
    assert entry.licence.max_monthly_active_users == 700_000_000
    assert entry.licence.commercial_use
    assert entry.licence.requires_acceptance
    assert entry.tooling.end_of_turn_token == "<|eot_id|>"
    assert any("Built with Llama" in c for c in entry.licence.conditions)


def test_phi_models_are_mit_with_fused_projections() -> None:
    phi4 = get_entry("phi-4")
    assert phi4.licence.id == "mit"
    assert phi4.tooling.end_of_turn_token == "<|im_end|>"
    for entry in (phi4, get_entry("phi-3.5-mini-instruct")):
        assert "qkv_proj" in entry.tooling.lora_targets
        assert "gate_up_proj" in entry.tooling.lora_targets
    assert get_entry("phi-3.5-mini-instruct").tooling.end_of_turn_token == "<|end|>"


def test_qwen_licences_differ_by_size() -> None:
    big = get_entry("qwen2.5-72b-instruct")
    assert big.licence.id == "qwen"
    assert big.licence.id != "apache-2.0"
    assert big.licence.commercial_use
    assert big.licence.max_monthly_active_users == 100_000_000
    small = get_entry("qwen2.5-3b-instruct")
    assert small.licence.id == "qwen-research"
    assert not small.licence.commercial_use
    for apache_id in ("qwen2.5-0.5b-instruct", "qwen2.5-7b-instruct", "qwen2.5-14b-instruct", "qwen3-8b"):
        assert get_entry(apache_id).licence.id == "apache-2.0"


def test_gemma_is_commercial_with_conditions(catalog: list[CatalogEntry]) -> None:
    gemmas = [e for e in catalog if e.family == "gemma"]
    assert len(gemmas) >= 3
    for entry in gemmas:
        assert entry.licence.id == "gemma"
        assert entry.licence.commercial_use
        assert entry.licence.source_url == "https://ai.google.dev/gemma/terms"
        assert any("Prohibited Use Policy" in c for c in entry.licence.conditions)
        assert any("downstream" in c for c in entry.licence.conditions)
        assert entry.tooling.end_of_turn_token == "<end_of_turn>"


def test_moe_entries_have_fewer_active_parameters() -> None:
    for moe_id in ("mixtral-8x7b-instruct-v0.1", "qwen3-30b-a3b"):
        entry = get_entry(moe_id)
        assert entry.is_moe
        assert entry.active_params_b < entry.params_b


# --- loading and look-up ----------------------------------------------------------------------------


def test_get_entry_accepts_the_base_prefix() -> None:
    assert get_entry("base:phi-4").id == "phi-4"


def test_get_entry_unknown_names_close_matches() -> None:
    with pytest.raises(NotFound) as info:
        get_entry("llama-3.1-8b")
    assert info.value.code == "unknown_model"
    assert "no catalog entry 'llama-3.1-8b'" in info.value.message
    assert "llama-3.1-8b-instruct" in info.value.message


def test_unknown_key_in_the_data_is_an_error(catalog: list[CatalogEntry]) -> None:
    raw = catalog[0].model_dump()
    raw["tooling"]["flash_attention"] = True
    with pytest.raises(InvalidInput) as info:
        parse_catalog({"models": [raw]})
    assert info.value.code == "invalid_catalog"
    assert info.value.location is not None
    assert info.value.location.field == "models.0.tooling.flash_attention"


def test_duplicate_ids_are_an_error(catalog: list[CatalogEntry]) -> None:
    raw = catalog[0].model_dump()
    with pytest.raises(InvalidInput, match="duplicate id"):
        parse_catalog({"models": [raw, raw]})


def test_load_catalog_returns_a_fresh_list() -> None:
    first = load_catalog()
    first.clear()
    assert load_catalog()


# --- cost -------------------------------------------------------------------------------------------


def test_cost_formula_on_a_hand_computed_case() -> None:
    # A dense 10B model: 2 × 10e9 × 1e6 FLOPs / (312e12 × 0.3 FLOP/s) = 213.675 GPU-seconds,
    # × 2.00 USD / 3600 s = 0.118708 USD per million tokens; 10e9 × 2 B × 1.2 = 24e9 B fits one 80 GiB GPU.
    entry = _with(get_entry("llama-3.1-8b-instruct"), params_b=10.0, active_params_b=10.0)
    estimate = estimate_cost_per_million_tokens(entry)
    assert estimate.gpu_seconds_per_million_tokens == pytest.approx(2e16 / 9.36e13)
    assert estimate.gpu_seconds_per_million_tokens == pytest.approx(213.675, abs=1e-3)
    assert estimate.usd_per_million_tokens == pytest.approx(0.118708, abs=1e-6)
    assert estimate.gpus_needed == 1
    assert estimate.min_monthly_usd == pytest.approx(2.0 * 730)
    assert estimate.assumptions == CostAssumptions()


def test_memory_floor_uses_total_parameters() -> None:
    # 70.6e9 × 2 B × 1.2 = 169.44e9 B over 80 GiB (85.9e9 B) = 1.97 → 2 GPUs.
    assert estimate_cost_per_million_tokens(get_entry("llama-3.1-70b-instruct")).gpus_needed == 2
    mixtral = get_entry("mixtral-8x7b-instruct-v0.1")
    dense_equivalent = _with(mixtral, params_b=mixtral.active_params_b)
    moe = estimate_cost_per_million_tokens(mixtral)
    dense = estimate_cost_per_million_tokens(dense_equivalent)
    assert moe.usd_per_million_tokens == pytest.approx(dense.usd_per_million_tokens)
    assert moe.gpus_needed == math.ceil(46.7e9 * 2 * 1.2 / (80 * 2**30)) == 2


def test_cost_scales_with_the_assumptions() -> None:
    entry = get_entry("qwen2.5-7b-instruct")
    base = estimate_cost_per_million_tokens(entry)
    cheaper = estimate_cost_per_million_tokens(entry, CostAssumptions(gpu_hourly_usd=1.0, utilisation=0.6))
    assert cheaper.usd_per_million_tokens == pytest.approx(base.usd_per_million_tokens / 4)
    int4 = estimate_cost_per_million_tokens(
        get_entry("qwen2.5-72b-instruct"), CostAssumptions(bytes_per_param=0.5)
    )
    assert int4.gpus_needed == 1


def test_monthly_cost_and_always_on_floor() -> None:
    entry = get_entry("smollm2-135m-instruct")
    per_million = estimate_cost_per_million_tokens(entry).usd_per_million_tokens
    assert monthly_cost(entry, 50e6) == pytest.approx(50 * per_million)
    assert monthly_cost(entry, 0) == 0
    assert monthly_cost(entry, 50e6, CostAssumptions(always_on=True)) == pytest.approx(2.0 * 730)
    with pytest.raises(InvalidInput):
        monthly_cost(entry, -1)


def test_compare_to_reference_gives_the_ratio() -> None:
    small = get_entry("smollm2-135m-instruct")
    result = compare_to_reference(small, 1e9)
    assert result["reference_id"] == REFERENCE_MODEL_ID == "llama-3.1-70b-instruct"
    assert result["monthly_cost_usd"] < result["reference_monthly_cost_usd"]
    assert result["ratio"] == pytest.approx(70.6 / 0.135)
    assert result["reference_gpus_needed"] == 2
    assert compare_to_reference(small, 0)["ratio"] is None


# --- filters and recommendations --------------------------------------------------------------------


def test_filter_entries(catalog: list[CatalogEntry]) -> None:
    assert filter_entries(catalog) == catalog
    commercial = filter_entries(catalog, commercial=True)
    assert all(e.licence.commercial_use for e in commercial)
    assert [e.id for e in filter_entries(catalog, commercial=False)] == ["qwen2.5-3b-instruct"]
    small = filter_entries(catalog, max_params_b=1.0)
    assert {e.id for e in small} == {
        "qwen2.5-0.5b-instruct",
        "smollm2-135m-instruct",
        "smollm2-360m-instruct",
    }
    long = filter_entries(catalog, min_context=131072)
    assert long and all(e.context_window >= 131072 for e in long)
    assert "olmo-2-7b-instruct" not in {e.id for e in filter_entries(catalog, min_context=8000)}


def test_recommend_commercial_min_context_orders_by_cost(catalog: list[CatalogEntry]) -> None:
    recs = recommend(catalog, commercial=True, min_context=8000)
    ids = [r.entry.id for r in recs]
    assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
    costs = [r.usd_per_million_tokens for r in recs]
    assert costs == sorted(costs)
    assert ids[0] == "smollm2-135m-instruct"
    assert all(r.entry.context_window >= 8000 for r in recs)
    assert "qwen2.5-3b-instruct" not in ids  # research licence: no commercial use
    assert "olmo-2-7b-instruct" not in ids  # 4,096-token context
    assert any("context 8,192 tokens ≥ required 8,000" in reason for reason in recs[0].reasons)
    assert recs[0].licence.allowed


def test_recommend_without_commercial_use_includes_research_licences(catalog: list[CatalogEntry]) -> None:
    ids = [r.entry.id for r in recommend(catalog, commercial=False, min_context=8000)]
    assert "qwen2.5-3b-instruct" in ids


def test_recommend_respects_licence_user_caps(catalog: list[CatalogEntry]) -> None:
    mid = {r.entry.id for r in recommend(catalog, commercial=True, monthly_active_users=200_000_000)}
    assert "qwen2.5-72b-instruct" not in mid
    assert "llama-3.1-8b-instruct" in mid
    huge = {r.entry.id for r in recommend(catalog, commercial=True, monthly_active_users=800_000_000)}
    assert not any(i.startswith("llama-") for i in huge)
    assert "smollm2-135m-instruct" in huge


def test_recommend_limits_and_tie_breaks(catalog: list[CatalogEntry]) -> None:
    limited = recommend(catalog, commercial=True, max_params_b=2.0)
    assert limited and all(r.entry.params_b <= 2.0 for r in limited)
    base = get_entry("qwen2.5-7b-instruct")
    short = _with(base, id="tie-short", context_window=4096)
    long = _with(base, id="tie-long", context_window=65536)
    ranked = recommend([short, long], commercial=True)
    assert [r.entry.id for r in ranked] == ["tie-long", "tie-short"]
    same_context = [_with(base, id="tie-b"), _with(base, id="tie-a")]
    assert [r.entry.id for r in recommend(same_context, commercial=True)] == ["tie-a", "tie-b"]
    no_template = _with(base, id="no-template", tooling={**base.tooling.model_dump(), "chat_template": False})
    assert recommend([no_template], commercial=True) == []
    assert len(recommend([no_template], commercial=True, require_chat_template=False)) == 1


# --- docs -------------------------------------------------------------------------------------------


def _docs_table() -> str:
    text = (DOCS_DIR / "models.md").read_text(encoding="utf-8")
    assert TABLE_START in text, "docs/models.md lost its generated catalog table"
    return text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip() + "\n"


def test_docs_table_matches_the_catalog(catalog: list[CatalogEntry]) -> None:
    assert _docs_table() == render_markdown_table(catalog)
