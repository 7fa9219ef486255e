"""Smoke test of ``benchmarks/time_to_quality.py --quick``: every code path (tuneloop defaults, TRL,
a grid of two, held-out scoring) runs on the bundled model and the JSON lines other tools read parse
with sensible values. The numbers of a quick run mean nothing; only their shape is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "time_to_quality.py"
CLINC = ROOT.parent / "shared" / "datasets" / "clinc150"


@pytest.mark.slow
@pytest.mark.skipif(
    not (CLINC / "train_10_per_intent.jsonl").is_file(), reason="no ../shared CLINC150 subset"
)
def test_quick_run_prints_one_json_line_per_dataset(bundled_model_dir, tmp_path):
    out = tmp_path / "ttq.jsonl"
    env = dict(os.environ, HF_HUB_OFFLINE="1")  # TUNELOOP_MODEL_CACHE: the session's converted model
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--clinc-dir", str(CLINC), "--workdir", str(tmp_path / "work"),
         "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    printed = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"dataset"')]
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert printed == written
    assert [line["dataset"] for line in written] == ["clinc150", "support"]
    for line in written:
        for key in ("tuneloop_acc", "trl_acc", "grid_best_acc"):
            assert 0.0 <= line[key] <= 1.0, (key, line)
        for key in ("tuneloop_train_s", "trl_train_s", "tuneloop_tokens_per_s", "trl_tokens_per_s"):
            assert line[key] > 0, (key, line)
        assert 1 <= line["tuneloop_steps"] <= 2 and 1 <= line["trl_steps"] <= 2  # --quick: at most 2
        assert len(line["grid"]) == 2 and line["quick"] is True
        assert all(isinstance(met, bool) for met in line["targets"].values())
    assert "acc_vs_trl>=6x" in written[0]["targets"]
    assert "ratio tuneloop / TRL training time" in done.stdout
