"""The accelerate launch configs shipped in examples/accelerate load with accelerate's own parser
(unknown keys are errors there), and each names the command that runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "examples" / "accelerate").glob("*.yaml"))


def test_every_distributed_mode_has_a_config():
    assert {p.stem for p in CONFIGS} >= {
        "ddp",
        "fsdp",
        "deepspeed_zero2",
        "deepspeed_zero3",
        "multi_node_ddp",
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_and_documents_its_command(path):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(path))
    assert config.mixed_precision == "no"  # tuneloop applies bf16 autocast itself (train.bf16)
    assert "-m tuneloop train" in path.read_text().split("compute_environment")[0]
