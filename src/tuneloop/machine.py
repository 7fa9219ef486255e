"""What this machine offers a tuneloop process: its cores, the user's thread override, contention.

torch sizes its thread pool to the cores it sees, not to the cores free: two 2-thread jobs on 2 cores
each ran about 5x slower than alone. tuneloop cannot stop other processes, but it can use fewer
threads when told (``TUNELOOP_THREADS``) and say when the machine is busy (:func:`cpu_contention`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tuneloop.errors import InvalidInput, Location

THREADS_ENV = "TUNELOOP_THREADS"
MIN_FOREIGN_LOAD = 1.0
"""Other processes' work below one busy core is background noise, not worth a warning."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and ``taskset`` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_override() -> int | None:
    """``TUNELOOP_THREADS`` as a thread count, or None when unset.

    Raises:
        InvalidInput: ``bad_threads`` when the variable is not a positive integer.
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidInput(
            "bad_threads",
            f"{THREADS_ENV}={raw!r}: give a positive whole number of CPU threads (or unset it)",
            Location(field=THREADS_ENV),
        )
    return value


SAMPLE_S = 0.5
"""How long :func:`foreign_busy_cores` watches the CPU before training starts."""


def cpu_busy_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot (``/proc/stat``), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait is busy
    ticks = [int(v) for v in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds this process has used (all its threads)."""
    times = os.times()
    return times.user + times.system


def foreign_busy_cores(sample_s: float = SAMPLE_S) -> float | None:
    """How many cores other processes keep busy right now: the machine's busy CPU time over a short
    window, less this process's own, per second of the window. None where it cannot be measured.

    A measurement of now, not the 1-minute load average: the load average still counts, for a
    minute, the previous command of a script (a ``data check`` just before ``train``) and would warn
    about work that has already finished.
    """
    began_busy, began_own, began = cpu_busy_seconds(), own_cpu_seconds(), time.monotonic()
    if began_busy is None:
        return None
    time.sleep(sample_s)
    ended_busy, ended_own, elapsed = cpu_busy_seconds(), own_cpu_seconds(), time.monotonic() - began
    if ended_busy is None or elapsed <= 0:
        return None
    return max(0.0, (ended_busy - began_busy) - (ended_own - began_own)) / elapsed


def cpu_contention(threads: int) -> str | None:
    """A warning when other processes keep the cores busy that ``threads`` torch threads will need:
    at least one core's worth of other work, and more work than cores once the training threads run.
    None when the machine has room (or cannot say: no ``/proc/stat`` on this platform).
    """
    foreign = foreign_busy_cores()
    if foreign is None:
        return None
    cores = available_cores()
    if foreign < MIN_FOREIGN_LOAD or foreign + threads <= cores:
        return None
    return (
        f"other processes are using the CPU: about {foreign:.1f} of {cores} cores busy with other work; "
        f"training will be slower than usual. {THREADS_ENV} sets how many threads tuneloop uses (now {threads})"
    )
