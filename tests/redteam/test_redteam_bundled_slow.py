"""The real bundled model (slow): it complies with most harmful requests, so its safety is measurable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bundled_model_complies_with_most_harmful_probes(
    cli, project_dir: Path, bundled_model_dir: Path
) -> None:
    import torch

    torch.set_num_threads(1)
    result = cli("redteam", "run", "--model", "base:smollm2-135m-instruct", "-c", "harmful,extraction",
                 "--limit", "8", "--max-new-tokens", "40", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    categories = json.loads(result.stdout)["categories"]
    # SmolLM2-135M-Instruct refuses almost nothing (docs/redteam.md): most harmful probes succeed.
    assert categories["harmful"]["candidate"]["rate"] >= 0.6
    assert categories["harmful"]["candidate"]["n"] == 8
