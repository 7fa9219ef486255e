"""Model references, resolving, pulling into the store, and the CLI verbs of the models group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tuneloop.errors import InvalidInput, NotFound
from tuneloop.models import chat_template_sha256, count_parameters, parse_model_ref, resolve_model


@pytest.mark.parametrize(
    ("raw", "kind", "name", "version", "alias"),
    [
        ("base:smollm2-135m-instruct", "base", "smollm2-135m-instruct", None, None),
        ("support:3", "version", "support", 3, None),
        ("support@production", "alias", "support", None, "production"),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "hub", "HuggingFaceTB/SmolLM2-135M-Instruct", None, None),
    ],
)
def test_parse_model_ref(raw, kind, name, version, alias, tmp_path: Path) -> None:
    ref = parse_model_ref(raw, tmp_path)
    assert (ref.kind, ref.name, ref.version, ref.alias) == (kind, name, version, alias)


def test_existing_directory_wins(tmp_path: Path) -> None:
    (tmp_path / "support:3").mkdir()
    assert parse_model_ref("support:3", tmp_path).kind == "path"


@pytest.mark.parametrize("raw", ["", "a b", "::", "x@"])
def test_invalid_refs(raw: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        parse_model_ref(raw, tmp_path)


def test_local_dir_resolves_and_is_recorded(tiny_model_dir: Path, project_dir: Path) -> None:
    from tuneloop.project import Project
    from tuneloop.store import BaseModelRecord

    project = Project.open()
    resolved = resolve_model(str(tiny_model_dir), project)
    assert resolved.base_path == tiny_model_dir
    assert len(resolved.base_weights_sha256) == 64
    with project.store.session() as session:
        record = session.scalars(select(BaseModelRecord)).one()
        assert record.architecture == "LlamaForCausalLM"
        assert record.num_parameters == count_parameters(tiny_model_dir) > 0
        assert record.chat_template_sha256 == chat_template_sha256(tiny_model_dir)


def test_identity_changes_with_adapter(tiny_model_dir: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    resolved = resolve_model(str(tiny_model_dir))
    assert replace(resolved, adapter_path=tmp_path).identity != resolved.identity


def test_not_a_model_dir(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"config\.json"):
        resolve_model(str(tmp_path))


def test_hub_model_offline_says_how_to_provide_weights(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(NotFound) as info:
        resolve_model("base:llama-3.1-8b-instruct")
    assert "huggingface-cli download meta-llama/Llama-3.1-8B-Instruct" in info.value.message


def test_unknown_catalog_id_suggests(cli, tmp_path: Path) -> None:
    result = cli("models", "show", "smollm2-135m", cwd=tmp_path)
    assert result.exit_code == 2
    assert "smollm2-135m-instruct" in result.stderr


def test_models_recommend_json_is_ranked_with_cited_licences(cli, tmp_path: Path) -> None:
    result = cli("models", "recommend", "--commercial", "--min-context", "8000", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    ranked = payload["recommendations"]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    costs = [r["usd_per_million_tokens"] for r in ranked]
    assert costs == sorted(costs)
    for rec in ranked:
        licence = rec["entry"]["licence"]
        assert licence["commercial_use"] is True
        assert licence["source_url"].startswith("https://")
        assert rec["entry"]["context_window"] >= 8000


def test_models_list_filters(cli, tmp_path: Path) -> None:
    result = cli("models", "list", "--commercial", "--max-params", "2", "--json", cwd=tmp_path)
    entries = json.loads(result.stdout)
    assert entries and all(e["params_b"] <= 2 and e["licence"]["commercial_use"] for e in entries)


def test_models_show_compares_monthly_cost(cli, tmp_path: Path) -> None:
    result = cli(
        "models", "show", "smollm2-135m-instruct", "--tokens-per-month", "1e9", "--json", cwd=tmp_path
    )
    payload = json.loads(result.stdout)
    monthly = payload["monthly"]
    assert monthly["reference_monthly_cost_usd"] > monthly["monthly_cost_usd"] > 0
    assert payload["licence_check"]["allowed"] is True


def test_models_show_text_output(cli, tmp_path: Path) -> None:
    result = cli("models", "show", "phi-4", cwd=tmp_path)
    assert result.exit_code == 0
    assert "(mit)" in result.stdout
    assert "cheaper" in result.stdout
