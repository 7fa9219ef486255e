"""Sustained drift: a state machine over consecutive windows, so one noisy window triggers nothing.

At a 5% level one window in twenty raises a false alarm by design; retraining on each would retrain
every few weeks on noise. The tracker moves through

``stable`` -> ``drifting`` (a window drifted; counting) -> ``sustained`` (``sustain`` drifting windows
in a row: the retraining trigger) -> ``recovering`` (a clean window after sustained drift) -> ``stable``
(``recover`` clean windows in a row).

Two consecutive false alarms at 5% happen with probability 0.25%, three with 0.0125%; a real shift
that persists reaches ``sustained`` after ``sustain`` windows. The state is a plain record, stored
with each window's result, so a one-shot ``monitor run`` continues where the previous one stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

State = Literal["stable", "drifting", "sustained", "recovering"]


@dataclass(frozen=True)
class DriftState:
    """Where a model's inputs stand after the windows seen so far."""

    state: State = "stable"
    drifting_windows: int = 0
    """Consecutive drifting windows up to now."""
    clean_windows: int = 0
    """Consecutive clean windows up to now."""
    windows: int = 0
    """All windows seen."""

    @property
    def sustained(self) -> bool:
        return self.state == "sustained"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftState:
        return cls(**{key: data[key] for key in ("state", "drifting_windows", "clean_windows", "windows")})


def advance(previous: DriftState, window_drifted: bool, *, sustain: int = 3, recover: int = 2) -> DriftState:
    """The state after one more window."""
    if sustain < 1 or recover < 1:
        raise ValueError("sustain and recover must be at least 1")
    seen = replace(previous, windows=previous.windows + 1)
    if window_drifted:
        streak = previous.drifting_windows + 1
        if previous.state in ("sustained", "recovering") or streak >= sustain:
            return replace(seen, state="sustained", drifting_windows=streak, clean_windows=0)
        return replace(seen, state="drifting", drifting_windows=streak, clean_windows=0)
    calm = previous.clean_windows + 1
    if previous.state in ("sustained", "recovering") and calm < recover:
        return replace(seen, state="recovering", drifting_windows=0, clean_windows=calm)
    return replace(seen, state="stable", drifting_windows=0, clean_windows=calm)
