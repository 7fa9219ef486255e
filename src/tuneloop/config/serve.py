"""The ``serve`` section: the built-in OpenAI-compatible server (the serving stage builds on it)."""

from __future__ import annotations

from pydantic import Field

from tuneloop.config.strict_model import StrictModel


class ServeSection(StrictModel):
    """Serving settings."""

    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = Field(default=8000, ge=1, le=65535)
    """TCP port."""
    model: str = "production"
    """Alias served by default (``<project>@<alias>``)."""
    log_requests: bool = True
    """Log requests and responses to the store for monitoring and retraining."""
