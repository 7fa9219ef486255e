"""The Acme Cloud support example: reproducible, strict-format, and it passes ``data check``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from datahelpers import EXAMPLE

from tuneloop.config import load_config
from tuneloop.data import load_records

CATEGORIES = {"billing", "technical", "account", "shipping", "security", "other"}


def test_example_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    copy = tmp_path / "support"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("*.jsonl", ".tuneloop", "__pycache__"))
    subprocess.run([sys.executable, str(copy / "generate.py")], check=True, capture_output=True)
    for name in ("train.jsonl", "holdout.jsonl", "production_sample.jsonl"):
        assert (copy / name).read_bytes() == (EXAMPLE / name).read_bytes(), name


def test_example_answers_follow_the_strict_format() -> None:
    train = load_records([EXAMPLE / "train.jsonl"])
    holdout = load_records([EXAMPLE / "holdout.jsonl"])
    assert len(train) >= 300 and len(holdout) >= 60
    for record in train + holdout:
        answer = json.loads(record.final_answer())
        assert list(answer) == ["category", "priority", "reply"]
        assert answer["category"] in CATEGORIES and answer["category"] == record.tags["category"]
        assert answer["priority"] in {"low", "medium", "high"}
        assert record.messages[0].role == "user"  # the system prompt comes from project.system_prompt
    assert {r.tags["category"] for r in train} == CATEGORIES
    config = load_config(EXAMPLE / "tuneloop.yaml")
    assert config.project.system_prompt and config.data.train == ["train.jsonl"]


def test_example_passes_data_check(cli, tmp_path: Path, tiny_model_dir: Path) -> None:
    project = tmp_path / "support"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".tuneloop", "__pycache__"))
    result = cli("data", "check", "--model", str(tiny_model_dir), "--no-embeddings", "--json", cwd=project)
    assert result.exit_code == 0, result.stdout[-3000:] + result.stderr
    report = json.loads(result.stdout)
    assert report["gate"]["errors"] == 0
    assert report["duplicates"]["removable"] == 0 and report["conflicts"]["groups"] == 0
    assert report["contamination"]["contaminated"] == 0
    assert report["production_match"]["uncovered_share"] < 0.2
    assert report["sensitive"]["total"] == 0
    assert report["dataset_version"]["num_records"] >= 300


@pytest.mark.slow
def test_example_passes_with_the_real_model_and_embeddings(
    cli, tmp_path: Path, bundled_model_dir: Path
) -> None:
    project = tmp_path / "support"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".tuneloop", "__pycache__"))
    result = cli("data", "check", "--json", cwd=project)
    assert result.exit_code == 0, result.stdout[-3000:] + result.stderr
    report = json.loads(result.stdout)
    clusters = report["diversity"]["clusters"]
    assert clusters["clusters"] >= 2 and clusters["embedded"] == report["dataset"]["records"]
    assert report["production_match"]["method"] == "MiniLM embeddings"
    assert 60 <= report["tokens"]["tokens"]["median"] <= 300
