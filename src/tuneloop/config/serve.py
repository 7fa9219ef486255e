"""The ``serve`` section: the built-in OpenAI-compatible server (``tuneloop serve``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tuneloop.config.strict_model import StrictModel


class CanaryRule(StrictModel):
    """Send a share of one model name's traffic to its canary alias."""

    name: str = Field(min_length=1)
    """The registered model name whose traffic is split (requests for ``<name>@<alias>``)."""
    alias: str = "canary"
    """The alias that receives the canary share."""
    share: float = Field(default=0.1, ge=0, le=1)
    """Share of API keys (sticky: one key always lands on the same side) routed to the canary."""
    serving_alias: str = "production"
    """Only requests for this alias are split; other references are served as asked."""


class ServeSection(StrictModel):
    """Serving settings."""

    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = Field(default=8000, ge=1, le=65535)
    """TCP port."""
    model: str = "production"
    """Alias served by default (``<project>@<alias>``): what a request naming only the project gets,
    and the model loaded before the server reports ready."""
    log_requests: bool = True
    """Log requests and responses to the store for monitoring and retraining."""
    redact_logged_pii: bool = False
    """Replace PII (the data stage's detectors) in logged prompts and answers before they are stored."""
    max_queue: int = Field(default=64, ge=1)
    """Requests waiting or generating at once; beyond it new requests get 429 with ``Retry-After``."""
    max_batch_size: int = Field(default=16, ge=1)
    """Most requests that share one batched forward pass."""
    batch_wait_ms: int = Field(default=10, ge=0)
    """How long the engine waits for more requests to join a batch once one is queued."""
    request_timeout_s: float = Field(default=120.0, gt=0)
    """A request still unanswered after this many seconds is cancelled with a 504 error."""
    max_tokens_limit: int = Field(default=1024, ge=1)
    """The largest ``max_tokens`` a request may ask for (400 above it)."""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Request bodies larger than this are refused with 413."""
    alias_refresh_s: float = Field(default=1.0, ge=0)
    """How long a resolved alias is reused before the registry is asked again: a promote or rollback
    reaches new requests within this many seconds, without a restart."""
    drain_timeout_s: float = Field(default=30.0, ge=0)
    """On SIGTERM, how long in-flight requests may run before the server exits anyway."""
    canary: list[CanaryRule] = Field(default_factory=list)
    """Canary splits, one per model name."""
    upstream: str | None = None
    """Base URL of an OpenAI-compatible engine (a vLLM server) to generate with instead of loading the
    model here; aliases, keys, canary and the request log stay in tuneloop (``--upstream``)."""
    upstream_naming: Literal["vllm", "reference"] = "vllm"
    """How a version is named to the upstream: ``vllm`` (``<name>-v<N>``, the names ``tuneloop deploy
    vllm`` exports) or ``reference`` (``support:3``: another ``tuneloop serve``)."""
    upstream_api_key_env: str | None = None
    """Environment variable holding the upstream engine's API key, if it needs one."""
