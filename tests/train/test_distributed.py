"""The same ``tuneloop train`` under ``torchrun --nproc_per_node 2`` (gloo, CPU): both processes end
with identical weights, only the main process writes the store, the checkpoints and the output, and
the result equals a single-process run of the same plan (the loss is normalised globally)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuneloop.store import ModelVersionRecord, RunMetricRecord, RunRecord
from tuneloop.train import train


@pytest.mark.slow
def test_two_process_ddp_training_agrees_and_writes_once(train_project):
    root = train_project.root
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29531",
        "-m",
        "tuneloop",
        "train",
        "--max-steps",
        "4",
        "--json",
    ]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # exactly one JSON document: only the main process printed
    assert result["status"] == "completed" and result["model_version"] == "tiny:1"
    with train_project.store.session() as session:
        (run,) = session.query(RunRecord).all()
        assert session.query(ModelVersionRecord).count() == 1
        losses = session.query(RunMetricRecord).filter_by(run_id=run.id, name="loss").all()
    assert sorted(m.step for m in losses) == [1, 2, 3, 4]
    assert run.summary["processes"] == 2 and run.summary["ranks_agree"] is True
    assert run.environment["distributed"]["num_processes"] == 2
    checkpoints = sorted(p.name for p in (Path(run.output_dir) / "checkpoints").iterdir())
    assert checkpoints[-1] == "step-00000004" and not any(name.startswith(".") for name in checkpoints)
    files = {p.name for p in (Path(run.output_dir) / "checkpoints" / checkpoints[-1]).iterdir()}
    assert {"rng-0.pt", "rng-1.pt", "trainable.safetensors", "optimizer.pt", "state.json"} <= files
    single = train(train_project, register_as="single", overrides={"max_steps": 4})
    assert result["metrics"]["loss"] == pytest.approx(single.metrics["loss"], rel=1e-5)
    assert result["metrics"]["eval_loss"] == pytest.approx(single.metrics["eval_loss"], rel=1e-5)
