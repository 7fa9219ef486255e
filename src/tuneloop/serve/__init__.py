"""Serving: an OpenAI-compatible server that follows the registry's aliases (``tuneloop serve``).

:mod:`.backend` is the contract between the HTTP layer (:mod:`.app`) and what generates
(:mod:`.engine` on this machine, :mod:`.upstream` for an outside engine such as vLLM).
"""

from typing import TYPE_CHECKING

from tuneloop.serve.backend import (
    Backend,
    BackendError,
    Choice,
    Completion,
    Delta,
    Prompt,
    QueueFull,
    Sampling,
    StreamResult,
    Target,
)

if TYPE_CHECKING:
    from tuneloop.serve.app import create_app
    from tuneloop.serve.keys import ApiKeyInfo, authenticate, create_key, list_keys, revoke_key
    from tuneloop.serve.server import serve

__all__ = [
    "ApiKeyInfo",
    "Backend",
    "BackendError",
    "Choice",
    "Completion",
    "Delta",
    "Prompt",
    "QueueFull",
    "Sampling",
    "StreamResult",
    "Target",
    "authenticate",
    "create_app",
    "create_key",
    "list_keys",
    "revoke_key",
    "serve",
]


_LAZY = {
    "ApiKeyInfo": "tuneloop.serve.keys",
    "authenticate": "tuneloop.serve.keys",
    "create_key": "tuneloop.serve.keys",
    "list_keys": "tuneloop.serve.keys",
    "revoke_key": "tuneloop.serve.keys",
    "create_app": "tuneloop.serve.app",
    "serve": "tuneloop.serve.server",
}


def __getattr__(name: str) -> object:
    # The store, fastapi and uvicorn load only when asked for, so `tuneloop --help` stays fast.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)
