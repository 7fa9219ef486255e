"""Parallel promotes and rollbacks from several processes never leave an alias and its history
disagreeing, on SQLite and on PostgreSQL.

The invariant: each event's previous version is the preceding event's new version, the last event's
new version is where the alias points, and there are exactly as many events (and revisions) as moves
that succeeded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuneloop.project import Project
from tuneloop.registry import alias_history, alias_state, register_model_version
from tuneloop.store import Store

WORKERS, MOVES = 4, 10
WORKER = Path(__file__).with_name("alias_worker.py")


def check_invariant(project: Project, name: str, alias: str) -> int:
    """Asserts the alias and its history agree; returns the number of moves."""
    events = alias_history(project, name, alias)
    state = alias_state(project, name, alias)
    previous = None
    for event in events:
        assert event.previous_version_id == previous, f"event {event.id} does not continue its predecessor"
        previous = event.model_version_id
    assert previous == state.model_version_id
    assert state.revision == len(events)
    return len(events)


def test_parallel_moves_keep_alias_and_history_in_agreement(
    store: Store, project_dir: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TUNELOOP_DB_URL", store.url)
    project = Project.open(project_dir)
    for _ in range(4):
        register_model_version(project, name="proj", kind="full", artifact_dir=tiny_model_dir,
                               base_reference=str(tiny_model_dir), base_weights_sha256="0" * 64)  # fmt: skip
    environment = os.environ | {"TUNELOOP_DB_URL": store.url, "PYTHONPATH": os.pathsep.join(sys.path)}
    start = tmp_path / "start"
    workers = [
        subprocess.Popen([sys.executable, str(WORKER), str(project_dir), str(seed), str(MOVES), str(start)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        for seed in range(WORKERS)
    ]  # fmt: skip
    results = []
    try:
        deadline = time.monotonic() + 300
        while not all((tmp_path / f"ready-{seed}").exists() for seed in range(WORKERS)):
            assert all(w.poll() is None for w in workers), "a worker died before the start"
            assert time.monotonic() < deadline, "workers never got ready"
            time.sleep(0.02)
        start.touch()
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    done = sum(r["done"] for r in results)
    assert sum(r["done"] + r["refused"] for r in results) == WORKERS * MOVES
    assert done >= WORKERS  # every worker's first move is a plain move, which retries until it lands
    assert check_invariant(project, "proj", "production") == done
    project.store.dispose()
