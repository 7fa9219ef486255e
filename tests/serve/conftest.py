"""Fixtures of the engine tests: a lively tiny base, two registered adapter versions, a running engine.

The base is evaluation's lively tiny model (its greedy answers differ from prompt to prompt, so
batched-versus-alone comparisons are not trivial); it is built by the evaluation tests' own helper.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tuneloop.models import ResolvedModel, resolve_model
from tuneloop.serve.backend import Target

T = TypeVar("T")
EVALUATE_TESTS = Path(__file__).resolve().parents[1] / "evaluate"


def _evaluation_fixtures() -> Any:
    """tests/evaluate/conftest.py as a module (its ``_save_lively`` builds the lively model)."""
    if str(EVALUATE_TESTS) not in sys.path:
        sys.path.append(str(EVALUATE_TESTS))  # its conftest imports evalhelpers beside it
    spec = importlib.util.spec_from_file_location("evaluate_test_fixtures", EVALUATE_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def engine_target(resolved: ResolvedModel, requested: str | None = None) -> Target:
    """The Target the HTTP layer would build for a resolved reference."""
    registered = resolved.lineage.get("version")
    name, _, version = (registered or "").partition(":")
    return Target(
        requested=requested or resolved.reference,
        reference=registered or resolved.reference,
        name=name or resolved.reference,
        version=int(version) if version else None,
        version_id=None,
        base_path=resolved.base_path,
        base_weights_sha256=resolved.base_weights_sha256,
        adapter_path=resolved.adapter_path,
        merged_weights=resolved.merged_weights,
        identity=resolved.identity,
    )


@dataclass
class EngineModels:
    """A project with ``proj:1`` and ``proj:2`` (two LoRA adapters of one lively base)."""

    project: Any
    base: Target
    v1: Target
    v2: Target

    def target(self, reference: str) -> Target:
        """The Target of another reference in the project (a version registered by the test)."""
        return engine_target(resolve_model(reference, self.project))


@pytest.fixture(scope="session")
def engine_base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _evaluation_fixtures()._save_lively(tmp_path_factory.mktemp("engine-base") / "model", seed=3)


@pytest.fixture(scope="session")
def engine_full_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Other full weights of the same architecture (a fully fine-tuned version's artifact)."""
    return _evaluation_fixtures()._save_lively(tmp_path_factory.mktemp("engine-full") / "model", seed=11)


def _save_adapter(base_dir: Path, directory: Path, seed: int) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def engine_adapter_dirs(engine_base_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("engine-adapters")
    return [_save_adapter(engine_base_dir, root / f"adapter{seed}", seed) for seed in (1, 2)]


@pytest.fixture
def engine_models(project_dir: Path, engine_base_dir: Path, engine_adapter_dirs: list[Path]) -> EngineModels:
    from tuneloop.project import Project
    from tuneloop.registry import register_model_version

    project = Project.open()
    base = resolve_model(str(engine_base_dir))
    for adapter in engine_adapter_dirs:
        register_model_version(
            project,
            name="proj",
            kind="adapter",
            artifact_dir=adapter,
            base_reference=str(engine_base_dir),
            base_weights_sha256=base.base_weights_sha256,
        )
    v1, v2 = (resolve_model(ref, project) for ref in ("proj:1", "proj:2"))
    return EngineModels(project, engine_target(base), engine_target(v1), engine_target(v2))


@pytest.fixture(autouse=True)
def engine_single_thread() -> Iterator[None]:
    """One torch thread: the tests share a small machine, and answers must not depend on scheduling."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


EngineRun = Callable[..., Any]


@pytest.fixture
def engine_run() -> EngineRun:
    """``engine_run(scenario, [engine_type], **engine_settings)``: start a LocalEngine (fp32, no autocast), await
    ``scenario(engine)`` on a fresh event loop, always stop the engine; returns the scenario's value."""
    from tuneloop.serve.engine import LocalEngine

    def run(
        scenario: Callable[[LocalEngine], Awaitable[T]],
        engine_type: type[LocalEngine] = LocalEngine,
        **settings: Any,
    ) -> T:
        options = {"max_queue": 16, "max_batch_size": 8, "batch_wait_ms": 50, "autocast": False} | settings

        async def main() -> T:
            engine = engine_type(**options)
            await engine.start()
            try:
                return await scenario(engine)
            finally:
                await engine.stop(drain_timeout_s=0)

        return asyncio.run(main())

    return run
