"""Prometheus metrics of one server (``GET /metrics``), on a registry of its own (not the global one),
so several apps in one process (tests, an upstream router beside a local engine) never collide.

The ``model`` label is the exact version that answered (``support:3``), or ``-`` for requests refused
before routing: labels never carry raw client input, so their number stays bounded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class TokenRate:
    """Generated tokens per second over a sliding window."""

    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._events: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def add(self, tokens: int) -> None:
        with self._lock:
            self._events.append((self._clock(), tokens))

    def per_second(self) -> float:
        horizon = self._clock() - self.window_s
        with self._lock:
            while self._events and self._events[0][0] < horizon:
                self._events.popleft()
            return sum(tokens for _, tokens in self._events) / self.window_s


class ServeMetrics:
    """The server's counters, histograms and gauges."""

    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tuneloop_requests",
            "Requests answered, by endpoint, exact model version and HTTP status.",
            ["endpoint", "model", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tuneloop_request_latency_seconds",
            "Time from receiving a request to its last byte, by endpoint.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.generated_tokens = Counter(
            "tuneloop_generated_tokens",
            "Completion tokens generated, by exact model version.",
            ["model"],
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "tuneloop_prompt_tokens",
            "Prompt tokens processed, by exact model version.",
            ["model"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "tuneloop_queue_depth",
            "Requests accepted by the backend and not finished.",
            registry=self.registry,
        )
        self.queue_depth.set_function(queue_depth)
        self.in_flight = Gauge(
            "tuneloop_requests_in_flight", "HTTP requests being answered now.", registry=self.registry
        )
        self._rate = TokenRate()
        self.tokens_per_second = Gauge(
            "tuneloop_tokens_per_second",
            "Completion tokens generated per second over the last 10 seconds.",
            registry=self.registry,
        )
        self.tokens_per_second.set_function(self._rate.per_second)

    def observe(self, endpoint: str, model: str, status: int, latency_s: float) -> None:
        self.requests.labels(endpoint=endpoint, model=model, status=str(status)).inc()
        self.latency.labels(endpoint=endpoint).observe(latency_s)

    def tokens(self, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens.labels(model=model).inc(prompt_tokens)
        self.generated_tokens.labels(model=model).inc(completion_tokens)
        self._rate.add(completion_tokens)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
