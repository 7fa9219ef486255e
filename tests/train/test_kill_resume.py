"""``kill -9`` in the middle of ``tuneloop train``, then ``tuneloop train --resume``: the run
continues from its last complete checkpoint and ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuneloop.train import get_run, list_runs, train


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(train_project):
    root = train_project.root
    config = (
        (root / "tuneloop.yaml")
        .read_text()
        .replace("  max_steps: 6\n", "  max_steps: 60\n  save_every_steps: 2\n")
    )
    (root / "tuneloop.yaml").write_text(config)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "tuneloop", "train", "--no-eval", "--json"]
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    runs_dir = root / ".tuneloop" / "runs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if any(runs_dir.glob("*/checkpoints/step-*/state.json")):
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (killed,) = list_runs(train_project)
    assert killed.status == "running"  # nobody could mark it: the lock is free, so it is resumable
    written = max(int(p.name.split("-")[1]) for p in Path(killed.output_dir, "checkpoints").glob("step-*"))
    assert written < 60

    resumed = subprocess.run(
        [*command[:-2], "--resume", "--no-eval", "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    outcome = json.loads(resumed.stdout)
    assert outcome["run"] == killed.name and outcome["status"] == "completed"
    from tuneloop.project import Project

    straight = train(Project.open(root), no_eval=True, register_as="straight")
    assert outcome["metrics"]["loss"] == pytest.approx(straight.metrics["loss"], rel=1e-4)
    assert outcome["metrics"]["eval_loss"] == pytest.approx(straight.metrics["eval_loss"], rel=1e-4)
    assert get_run(train_project, killed.name).status == "completed"
