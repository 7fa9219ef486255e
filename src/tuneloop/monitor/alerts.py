"""Alerts: one structured log line per event, and an optional JSON POST to a webhook.

Events: ``drift`` (a window drifted), ``quality_drop`` (online evaluation alerted), ``retrain_started``,
``retrain_finished``, ``retrain_failed``, ``gate_failed`` (a retrained candidate was not promoted).
A webhook that fails is logged and never stops monitoring.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger("tuneloop.monitor")
WEBHOOK_TIMEOUT_S = 10.0


def alert(
    event: str, model: str, details: dict[str, Any], *, webhook_url: str | None = None
) -> dict[str, Any]:
    """Emit one alert; returns the payload sent."""
    payload = {"event": event, "model": model, "at": datetime.now(UTC).isoformat(), "details": details}
    LOG.warning("tuneloop alert %s", json.dumps(payload, default=str, sort_keys=True))
    if webhook_url:
        import httpx

        try:
            httpx.post(webhook_url, content=json.dumps(payload, default=str), timeout=WEBHOOK_TIMEOUT_S,
                       headers={"Content-Type": "application/json"}).raise_for_status()  # fmt: skip
        except httpx.HTTPError as exc:
            LOG.error("webhook %s failed for %s: %s", webhook_url, event, exc)
    return payload
