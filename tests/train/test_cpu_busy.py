"""Training on a busy machine says so through the caller's Progress when it starts."""

from __future__ import annotations

import pytest

import tuneloop.machine as machine
from tuneloop.progress import RecordingProgress
from tuneloop.train import train


def test_training_warns_when_other_processes_use_the_cores(
    train_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(machine, "available_cores", lambda: 2)
    monkeypatch.setattr(machine, "own_recent_load", lambda: 0.0)
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (3.1, 3.0, 2.5))
    progress = RecordingProgress()
    assert train(train_project, progress=progress).status == "completed"
    warnings = [text for level, text in progress.messages if level == "warning"]
    assert any(text.startswith("other processes are using the CPU: load 3.1 on 2 cores") for text in warnings)


def test_an_idle_machine_gets_no_warning(train_project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    progress = RecordingProgress()
    assert train(train_project, progress=progress).status == "completed"
    assert not [text for _, text in progress.messages if text.startswith("other processes")]
