"""The ``eval`` section: which suites run after training and the significance level."""

from __future__ import annotations

from pydantic import Field

from tuneloop.config._base import StrictModel


class EvalSection(StrictModel):
    """Evaluation settings."""

    suites: list[str] = Field(default_factory=list)
    """Suite YAML files of this project."""
    default_suites: list[str] | None = None
    """Suites run after every training run; None means all of ``suites``."""
    significance: float = Field(default=0.05, gt=0, lt=1)
    """Level for 'better'/'worse' verdicts from paired tests."""
