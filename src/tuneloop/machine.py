"""What this machine offers a tuneloop process: its cores, the user's thread override, contention.

torch sizes its thread pool to the cores it sees, not to the cores free: two 2-thread jobs on 2 cores
each ran about 5x slower than alone. tuneloop cannot stop other processes, but it can use fewer
threads when told (``TUNELOOP_THREADS``) and say when the machine is busy (:func:`cpu_contention`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from tuneloop.errors import InvalidInput, Location

THREADS_ENV = "TUNELOOP_THREADS"
LOAD_WINDOW_S = 60.0
"""The time constant of the 1-minute load average (an exponential moving average)."""
MIN_FOREIGN_LOAD = 1.0
"""Load from other processes below one busy core is background noise, not worth a warning."""


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


def own_recent_load() -> float:
    """This process's share of the 1-minute load average (with its finished child processes).

    Work done before training (tokenising, the data check's workers) counts in the load average for
    a minute; it is estimated from the CPU time used so far as an even rate over the process's life,
    weighted the way the kernel's moving average weighs it, so tuneloop does not warn about itself.
    """
    age = _process_age()
    if age is None or age <= 0:
        return 0.0
    times = os.times()
    cpu = times.user + times.system + times.children_user + times.children_system
    return (cpu / age) * (1 - math.exp(-age / LOAD_WINDOW_S))


def cpu_contention(threads: int) -> str | None:
    """A warning when other processes keep the cores busy that ``threads`` torch threads will need.

    Compares the 1-minute load average, less this process's own part, with the cores available: at
    least one core's worth of foreign load, and more load than cores once the training threads run.
    None when the machine has room (or cannot say: no load average on this platform).
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cores = available_cores()
    foreign = max(0.0, load - own_recent_load())
    if foreign < MIN_FOREIGN_LOAD or foreign + threads <= cores:
        return None
    return (
        f"other processes are using the CPU: load {load:.1f} on {cores} cores "
        f"(about {foreign:.1f} of it not tuneloop's); training will be slower than usual. "
        f"{THREADS_ENV} sets how many threads tuneloop uses (now {threads})"
    )


def _process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None elsewhere."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start time in ticks
    return max(0.0, uptime - started)
