"""The ``redteam`` section: which probe categories and strategies run."""

from __future__ import annotations

from pydantic import Field

from tuneloop.config._base import StrictModel


class RedteamSection(StrictModel):
    """Red-team settings."""

    categories: list[str] | None = None
    """Probe categories to run; None runs all built-in categories."""
    strategies: list[str] = Field(default_factory=lambda: ["none"])
    """Mutations applied to every probe (``none`` is the probe as written)."""
    custom_probes: list[str] = Field(default_factory=list)
    """YAML files of the project's own probes."""
