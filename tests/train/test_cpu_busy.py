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
    monkeypatch.setattr(machine, "foreign_busy_cores", lambda: 1.9)
    progress = RecordingProgress()
    assert train(train_project, progress=progress).status == "completed"
    warnings = [text for level, text in progress.messages if level == "warning"]
    assert any(
        text.startswith("other processes are using the CPU: about 1.9 of 2 cores") for text in warnings
    )


def test_an_idle_machine_gets_no_warning(train_project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "foreign_busy_cores", lambda: 0.1)
    progress = RecordingProgress()
    assert train(train_project, progress=progress).status == "completed"
    assert not [text for _, text in progress.messages if text.startswith("other processes")]
