"""Threads and CPU contention: ``TUNELOOP_THREADS`` overrides the derived thread count, and a busy
machine is reported before training instead of silently running several times slower."""

from __future__ import annotations

from pathlib import Path

import pytest

import tuneloop.machine as machine
from tuneloop.config.train import TrainSection
from tuneloop.errors import InvalidInput
from tuneloop.train.settings import resolve_settings


def _settings(model_dir: Path, **section: object):
    return resolve_settings(
        TrainSection(**section), device="cpu", model_dir=model_dir, max_length=256, catalog_targets=None
    )


def test_tuneloop_threads_overrides_the_derived_count(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(machine, "available_cores", lambda: 8)
    monkeypatch.delenv("TUNELOOP_THREADS", raising=False)
    derived = _settings(tiny_model_dir)
    assert derived.threads == 8 and derived.derived["threads"].startswith("8: cores available")
    monkeypatch.setenv("TUNELOOP_THREADS", "3")
    overridden = _settings(tiny_model_dir)
    assert overridden.threads == 3 and overridden.derived["threads"] == "3: TUNELOOP_THREADS"
    configured = _settings(tiny_model_dir, threads=2)  # an explicit train.threads is the project's choice
    assert configured.threads == 2 and "threads" not in configured.derived


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_tuneloop_threads_is_a_clear_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELOOP_THREADS", value)
    with pytest.raises(InvalidInput) as caught:
        machine.threads_override()
    assert caught.value.code == "bad_threads" and "TUNELOOP_THREADS" in str(caught.value)


def test_model_loading_uses_tuneloop_threads(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from tuneloop.models import load_model, resolve_model

    before = torch.get_num_threads()
    monkeypatch.setenv("TUNELOOP_THREADS", "1")
    try:
        load_model(resolve_model(str(tiny_model_dir)))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "available_cores", lambda: 2)
    monkeypatch.setattr(machine, "own_recent_load", lambda: 0.0)


def test_a_busy_machine_is_reported(two_cores: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (3.1, 2.0, 1.0))
    message = machine.cpu_contention(threads=2)
    assert message is not None
    assert message.startswith("other processes are using the CPU: load 3.1 on 2 cores")
    assert "training will be slower than usual" in message and "TUNELOOP_THREADS" in message


@pytest.mark.parametrize(
    ("load", "own", "threads"),
    [
        (0.4, 0.0, 2),  # an idle machine
        (2.0, 0.0, 0),  # busy, but tuneloop would leave the cores alone (no threads)
        (2.5, 2.0, 2),  # the load is tuneloop's own earlier work (tokenising, data check workers)
        (1.0, 0.0, 1),  # one other busy process, one training thread: both fit on two cores
    ],
)
def test_no_warning_when_the_cores_suffice(
    load: float, own: float, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(machine, "available_cores", lambda: 2)
    monkeypatch.setattr(machine, "own_recent_load", lambda: own)
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (load, load, load))
    assert machine.cpu_contention(threads=threads) is None


def test_no_load_average_no_warning(two_cores: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(machine.os, "getloadavg", unavailable)
    assert machine.cpu_contention(threads=2) is None


def test_own_recent_load_is_a_share_of_the_cpu_used() -> None:
    own = machine.own_recent_load()
    assert 0.0 <= own <= machine.available_cores() * 2  # this process and its finished children
