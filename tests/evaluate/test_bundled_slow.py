"""The real bundled SmolLM2 through the evaluation path (slow: loads the 135M model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "support"

pytestmark = pytest.mark.slow


@pytest.fixture
def support_copy(tmp_path: Path, bundled_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "support"
    root.mkdir()
    for name in ("tuneloop.yaml", "train.jsonl", "holdout.jsonl"):
        shutil.copy2(EXAMPLE / name, root / name)
    shutil.copytree(EXAMPLE / "evals", root / "evals")
    monkeypatch.chdir(root)
    return root


def test_batched_equals_single_on_the_bundled_model(bundled_model_dir: Path) -> None:
    import torch

    from tuneloop.evaluate import GenerationSettings, generate_batch, load_for_evaluation

    torch.set_num_threads(1)
    loaded = load_for_evaluation(None, "base:smollm2-135m-instruct")
    convs = [
        [{"role": "user", "content": q}]
        for q in (
            "What is the capital of France?",
            "What is 7 times 6?",
            "Name a primary colour.",
            "Say hello in French.",
        )
    ]
    settings = GenerationSettings(max_new_tokens=16, batch_size=4)
    batched = generate_batch(loaded, convs, settings, autocast=False)
    single = [generate_batch(loaded, [c], settings, autocast=False)[0] for c in convs]
    assert [g.text for g in batched] == [g.text for g in single]
    assert "paris" in batched[0].text.lower()


def test_fit_check_and_general_suite_on_the_bundled_model(cli, support_copy: Path) -> None:
    result = cli("eval", "baseline", "--suite", "support", "--limit", "4", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["variants"]["0-shot"]["n"] == 4 and "verdict" in data
    run = cli(
        "eval",
        "run",
        "--suite",
        "builtin:general",
        "--model",
        "base:smollm2-135m-instruct",
        "--limit",
        "6",
        "--json",
    )
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)["report"]["models"]["base:smollm2-135m-instruct"]["summary"]
    assert summary["general_ability"]["n"] == 6
