"""The ``data`` section: where the datasets are and the quality gates they must pass."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tuneloop.config._base import StrictModel


class DataSection(StrictModel):
    """Datasets and data-quality settings."""

    train: list[str] = Field(default_factory=list)
    """Training files or folders (JSONL, JSON, CSV, Parquet; a folder of .txt/.md for domain text)."""
    holdout: list[str] = Field(default_factory=list)
    """Holdout files used for evaluation; checked for contamination against ``train``."""
    format: str | None = None
    """Force one input format instead of auto-detection (see ``tuneloop data formats``)."""
    goal: Literal["behaviour", "domain"] = "behaviour"
    """``behaviour`` (teach a behaviour: 50-100+ examples) or ``domain`` (domain adaptation: 1000+)."""
    tag_fields: list[str] = Field(default_factory=lambda: ["category", "intent"])
    """Record fields copied into tags; the first present one is used for balance and stratification."""
