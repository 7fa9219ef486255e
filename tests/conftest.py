"""Shared fixtures: tiny in-process models, temporary projects and a CLI runner.

Tests run on CPU in seconds with a 2-layer random Llama (``tiny_model_dir``); only tests marked
``slow`` load the real bundled SmolLM2 (``bundled_model_dir``, converted once per session into a
cache shared across tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED = Path(__file__).resolve().parents[2] / "shared"
"""The design notes and shared data sets (``../shared`` beside the repository)."""


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama and byte-level ChatML tokenizer saved as a model directory."""
    from tuneloop.testing import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from tuneloop.testing import tiny_tokenizer

    return tiny_tokenizer()


@pytest.fixture
def tiny_model(tiny_tokenizer):
    from tuneloop.testing import tiny_model

    return tiny_model(len(tiny_tokenizer))


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One converted-model cache per test session (``TUNELOOP_MODEL_CACHE``), so slow tests share it."""
    cache = Path(os.environ.get("TUNELOOP_TEST_MODEL_CACHE") or tmp_path_factory.mktemp("model-cache"))
    os.environ["TUNELOOP_MODEL_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def bundled_model_dir(model_cache: Path) -> Path:
    """The real bundled SmolLM2-135M-Instruct converted to safetensors (slow tests only)."""
    from tuneloop.models import BUNDLED_CATALOG_ID, convert_bundled_model

    return convert_bundled_model(model_cache / BUNDLED_CATALOG_ID)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """Run ``tuneloop ARGS`` in-process from a chosen directory; returns exit code, stdout, stderr."""
    from tuneloop.cli import build_app

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        result = CliRunner().invoke(build_app(), [str(a) for a in args], catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh project (``tuneloop init``) as the working directory, with its own SQLite store."""
    from tuneloop.config import starter_config_text
    from tuneloop.store import atomic_write_text

    monkeypatch.delenv("TUNELOOP_DB_URL", raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    atomic_write_text(root / "tuneloop.yaml", starter_config_text("proj"))
    monkeypatch.chdir(root)
    yield root


PG_URL = os.environ.get("TUNELOOP_TEST_PG_URL")
"""A PostgreSQL server for the store tests (``.ci/run`` starts one); tests that need it skip without."""


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL schema (dropped afterwards): one schema per test keeps
    tests independent on one server. Skips when no server is configured."""
    import uuid

    from sqlalchemy import text

    from tuneloop.store import Store

    if not PG_URL:
        pytest.skip("no PostgreSQL server (set TUNELOOP_TEST_PG_URL; .ci/run starts one)")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = Store(PG_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
