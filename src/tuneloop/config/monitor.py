"""The ``monitor`` section: drift and quality checks on production traffic (monitoring stage)."""

from __future__ import annotations

from pydantic import Field

from tuneloop.config.strict_model import StrictModel


class MonitorSection(StrictModel):
    """Monitoring settings."""

    window_days: int = Field(default=7, ge=1)
    """Production traffic window compared with the training reference."""
    drift_threshold: float = Field(default=0.2, ge=0, le=1)
    """Share of production inputs with no training neighbour above which drift is reported."""
