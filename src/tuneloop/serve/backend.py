"""The contract between the HTTP layer and what generates: the local batching engine or an upstream.

The HTTP layer (:mod:`tuneloop.serve.app`) validates a request, resolves its model name to one exact
:class:`Target` (:mod:`tuneloop.serve.routing`: aliases, canary), and hands the target, the prompt and
the sampling settings to a :class:`Backend`. The target is fixed when the request is accepted, so a
promote or rollback that lands while it generates changes only later requests.

Two backends implement the protocol: :class:`tuneloop.serve.engine.LocalEngine` (one loaded base,
PEFT adapters, dynamic batching on this machine) and :class:`tuneloop.serve.upstream.UpstreamBackend`
(forwards to an OpenAI-compatible engine such as vLLM).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Sampling:
    """Decoding settings of one request (OpenAI's names and defaults)."""

    max_tokens: int = 256
    temperature: float = 1.0
    """0 is greedy; OpenAI's default is 1."""
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    n: int = 1
    """Answers (choices) per request."""


@dataclass(frozen=True)
class Prompt:
    """What to continue: chat messages (rendered with the model's chat template) or raw text."""

    messages: tuple[dict[str, Any], ...] | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.text is None):
            raise ValueError("a Prompt holds messages or text, exactly one of them")


@dataclass(frozen=True)
class Target:
    """The exact model version that answers a request, decided when the request is accepted."""

    requested: str
    """The model name the client sent (``support@production``)."""
    reference: str
    """The exact version: ``support:3`` for a registered version, ``base:<id>`` for a base model."""
    name: str
    """The registered model name (``support``), or the base reference for a base model."""
    version: int | None
    """The registered version number; None for a base model."""
    version_id: int | None
    """The registry row id of the version; None for a base model."""
    base_path: Path
    """The base model's directory (config, tokenizer, safetensors)."""
    base_weights_sha256: str
    adapter_path: Path | None
    """The PEFT adapter of a fine-tuned version, else None."""
    merged_weights: bool
    """True when ``base_path`` holds fully fine-tuned weights (no adapter)."""
    identity: str
    """A hash naming exactly these weights (base and adapter)."""
    alias: str | None = None
    """The alias the request went through (``production``, ``canary``), if any."""


@dataclass(frozen=True)
class Choice:
    index: int
    text: str
    finish_reason: str
    """``stop`` (end of turn or a stop string) or ``length`` (``max_tokens`` reached)."""
    completion_tokens: int


@dataclass(frozen=True)
class Completion:
    """A finished answer to one request."""

    target: Target
    choices: list[Choice]
    prompt_tokens: int
    latency_s: float
    """From acceptance by the backend (queue time included) to the last token."""

    @property
    def completion_tokens(self) -> int:
        return sum(choice.completion_tokens for choice in self.choices)


@dataclass(frozen=True)
class Delta:
    """A piece of a streamed answer: new text of one choice, and its finish reason on the last piece."""

    index: int
    text: str
    finish_reason: str | None = None
    completion_tokens: int = 0
    """Tokens of this choice so far (set on every piece)."""


@dataclass
class StreamResult:
    """Filled in by a backend as a stream runs; complete once the stream is exhausted."""

    prompt_tokens: int = 0
    choices: dict[int, Choice] = field(default_factory=dict)
    latency_s: float = 0.0


class QueueFull(Exception):
    """The backend's bounded queue is full; the client should retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: float, message: str = "the server is at capacity") -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BackendError(Exception):
    """Generation failed for a reason the client should see (a bad upstream answer, an unloadable model).

    ``status`` is the HTTP status to answer with; ``code`` a stable machine-readable code.
    """

    def __init__(self, message: str, *, status: int = 500, code: str = "backend_error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Backend(Protocol):
    """What the HTTP layer needs from a generator."""

    async def start(self) -> None:
        """Load what must be loaded before serving (the default model); called once at startup."""
        ...

    async def stop(self, drain_timeout_s: float) -> None:
        """Finish in-flight requests (up to ``drain_timeout_s``), refuse new ones, release resources."""
        ...

    @property
    def ready(self) -> bool:
        """True once :meth:`start` finished and the backend accepts requests."""
        ...

    @property
    def queue_depth(self) -> int:
        """Requests accepted and not finished (waiting or generating)."""
        ...

    async def generate(self, target: Target, prompt: Prompt, sampling: Sampling) -> Completion:
        """The whole answer. Raises :class:`QueueFull` at once when the queue is full. Cancelling the
        awaiting task (a client disconnect, a timeout) cancels the generation."""
        ...

    def stream(
        self, target: Target, prompt: Prompt, sampling: Sampling, result: StreamResult
    ) -> AsyncIterator[Delta]:
        """The answer piece by piece; ``result`` is complete when the iterator is exhausted. Raises
        :class:`QueueFull` on the first ``__anext__`` when the queue is full. Closing the iterator
        early (a client disconnect) cancels the generation."""
        ...
