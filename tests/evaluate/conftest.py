"""Fixtures of the evaluation tests: lively tiny models, a project with a suite, scripted answers.

The shared ``tiny_model`` collapses onto one token under greedy decoding (its weights are tiny), so
batched-vs-single comparisons would pass trivially; ``lively_model_dir`` scales the weights up so
greedy answers differ from prompt to prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from evalhelpers import SUITE_YAML, write_holdout

from tuneloop.project import Project


def _save_lively(directory: Path, seed: int) -> Path:
    import torch

    from tuneloop.testing import tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    model = tiny_model(len(tokenizer), seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def lively_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama whose greedy answers vary with the prompt."""
    return _save_lively(tmp_path_factory.mktemp("lively") / "model", seed=3)


@pytest.fixture(scope="session")
def lively_model_dir_2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, different lively model (a 'candidate' next to the first)."""
    return _save_lively(tmp_path_factory.mktemp("lively2") / "model", seed=11)


@pytest.fixture(autouse=True)
def _single_thread_and_fresh_models():
    import torch

    from tuneloop.evaluate.generation import _CACHES, forget_loaded_models

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    forget_loaded_models()
    for cache in _CACHES.values():
        cache.close()
    _CACHES.clear()


@pytest.fixture
def support_project(project_dir: Path) -> Project:
    """A project with a holdout file and a suite at evals/support.yaml (items relative to it)."""
    (project_dir / "evals").mkdir()
    write_holdout(project_dir / "evals" / "holdout.jsonl")
    (project_dir / "evals" / "support.yaml").write_text(SUITE_YAML, encoding="utf-8")
    config = project_dir / "tuneloop.yaml"
    text = re.sub(
        r"(?m)^  suites: \[\].*$", "  suites: [evals/support.yaml]", config.read_text(encoding="utf-8")
    )
    config.write_text(text, encoding="utf-8")
    project = Project.open()
    assert project.config.eval.suites == ["evals/support.yaml"]
    return project


@pytest.fixture
def scripted_answers(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Callable[[str], str]]], None]:
    """Replace generation: ``script({reference: answer_fn(last user message)})``."""
    from tuneloop.evaluate import runner
    from tuneloop.evaluate.generation import Generation

    def install(script: dict[str, Callable[[str], str]]) -> None:
        def fake_generate(
            project, reference, conversations, settings, *, use_cache=True, progress=None, tools=None
        ):
            fn = script[reference]
            results = []
            for conversation in conversations:
                text = fn(conversation[-1]["content"])
                samples = tuple(text for _ in range(settings.num_samples))
                results.append(Generation(text, 10, len(text.split()), 0.01, "stop", samples))
            return results

        monkeypatch.setattr(runner, "generate_for_model", fake_generate)
        monkeypatch.setattr("tuneloop.evaluate.generation.generate_for_model", fake_generate)
        monkeypatch.setattr(
            "tuneloop.evaluate.generation.describe_model", lambda project, ref: (ref, f"id-{ref}")
        )

    return install
