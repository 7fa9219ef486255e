"""Threads and CPU contention: ``TUNELOOP_THREADS`` overrides the derived thread count, and a busy
machine is reported before training instead of silently running several times slower."""

from __future__ import annotations

import time
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


def test_a_busy_machine_is_reported(two_cores: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "foreign_busy_cores", lambda: 1.9)
    message = machine.cpu_contention(threads=2)
    assert message is not None
    assert message.startswith("other processes are using the CPU: about 1.9 of 2 cores busy with other work")
    assert "training will be slower than usual" in message and "TUNELOOP_THREADS" in message


@pytest.mark.parametrize(
    ("foreign", "threads"),
    [
        (0.1, 2),  # an idle machine
        (2.0, 0),  # busy, but tuneloop would leave the cores alone (no threads)
        (0.9, 2),  # less than one core of other work: noise
        (1.0, 1),  # one other busy process, one training thread: both fit on two cores
    ],
)
def test_no_warning_when_the_cores_suffice(
    foreign: float, threads: int, two_cores: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(machine, "foreign_busy_cores", lambda: foreign)
    assert machine.cpu_contention(threads=threads) is None


def test_nothing_to_measure_no_warning(two_cores: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "cpu_busy_seconds", lambda: None)
    assert machine.foreign_busy_cores(sample_s=0.01) is None
    assert machine.cpu_contention(threads=2) is None


def test_other_work_is_the_machine_busy_time_less_our_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # the machine spends 1.5 CPU-seconds busy over a 0.5 s window; 0.5 of them are this process's
    busy, own = iter([100.0, 101.5]), iter([10.0, 10.5])
    clock = iter([0.0, 0.5])
    monkeypatch.setattr(machine, "cpu_busy_seconds", lambda: next(busy))
    monkeypatch.setattr(machine, "own_cpu_seconds", lambda: next(own))
    monkeypatch.setattr(machine.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(machine.time, "sleep", lambda seconds: None)
    assert machine.foreign_busy_cores() == pytest.approx(2.0)


def test_earlier_work_of_this_process_is_not_foreign() -> None:
    # a real measurement on Linux right after this process has been busy: its own time is left out
    deadline = time.perf_counter() + 0.2
    while time.perf_counter() < deadline:
        pass
    measured = machine.foreign_busy_cores(sample_s=0.2)
    if measured is None:
        pytest.skip("no /proc/stat here")
    assert 0.0 <= measured <= machine.available_cores() + 0.5
