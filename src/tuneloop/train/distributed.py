"""Helpers for code that runs in every process of ``accelerate launch`` / ``torchrun``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuneloop.errors import TuneloopError


def on_main_process(state: Any, work: Callable[[], Any], share: Callable[[Any], Any] | None = None) -> Any:
    """Run ``work`` on the main process only and give every process its result (or ``share(result)``,
    something smaller to send); the main process gets the result itself. If ``work`` fails, every
    process raises, so none is left waiting in a collective."""
    payload: list[Any] = [None]
    result: Any = None
    failure: BaseException | None = None
    if state.is_main_process:
        try:
            result = work()
            payload = [("ok", share(result) if share else result)]
        except TuneloopError as err:
            failure = err
            payload = [("error", (type(err), err.code, err.message, err.location))]
        except Exception as exc:
            failure = exc
            payload = [("crash", f"{type(exc).__name__}: {exc}")]
    if state.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(payload, from_process=0)
    if failure is not None:
        raise failure
    status, value = payload[0]
    if status == "error":
        kind, code, message, location = value
        error = kind.__new__(kind)
        TuneloopError.__init__(error, code, message, location)
        raise error
    if status == "crash":
        raise RuntimeError(f"the main process failed: {value}")
    return result if state.is_main_process else value
