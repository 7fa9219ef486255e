"""Split CPU-bound pure-Python work over one forked process per core.

Regular expressions and per-word hashing hold the GIL, so threads would not help; forked workers
inherit the parent's data (no pickling of the inputs), and only their results travel back. Where
fork is unavailable (Windows, macOS spawn default, a sandbox that forbids it) the work runs in the
calling process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_job: tuple[Callable[[int, int], Any], ...] | None = None


def _run(bounds: tuple[int, int]) -> Any:
    assert _job is not None
    return _job[0](*bounds)


def map_ranges(work: Callable[[int, int], T], count: int, *, min_items: int, max_workers: int = 8) -> list[T]:
    """``[work(start, stop), ...]`` over consecutive ranges covering ``range(count)``, one per core
    when ``count >= min_items``, else a single call."""
    workers = min(os.cpu_count() or 1, max_workers)
    if count < min_items or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [work(0, count)]
    global _job
    _job = (work,)  # forked workers inherit it
    step = -(-count // workers)
    ranges = [(start, min(start + step, count)) for start in range(0, count, step)]
    try:
        with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_run, ranges))
    except (OSError, RuntimeError):
        return [work(0, count)]
    finally:
        _job = None
