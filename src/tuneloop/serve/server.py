"""``tuneloop serve``'s stage function: run the app under uvicorn until SIGTERM/SIGINT, then drain.

On the first signal the server stops accepting connections and marks itself draining (``/ready`` and
new requests on open connections answer 503); in-flight requests finish, for up to
``serve.drain_timeout_s``; then the backend stops and the request log is flushed, and :func:`serve`
returns normally (exit 0). A second SIGINT forces the exit. Each request is logged as one line on the
``tuneloop.serve`` logger (version that answered, status, latency), never printed.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import uvicorn

from tuneloop.config.serve import ServeSection
from tuneloop.errors import InvalidInput
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.serve.answer import ServeState
from tuneloop.serve.app import create_app
from tuneloop.serve.backend import Backend, BackendError

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which also marks the app draining on a signal and, unlike uvicorn, does not
    re-raise the signal after a graceful stop (so the process exits 0)."""

    def __init__(self, config: uvicorn.Config, state: ServeState) -> None:
        super().__init__(config)
        self.state = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.state.draining = True
        super().handle_exit(sig, frame)

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def build_server(
    project: Project, section: ServeSection, backend: Backend, *, insecure_no_auth: bool = False
) -> DrainingServer:
    """The server for ``section`` (host, port, drain timeout), not yet running."""
    app = create_app(project, section, backend, insecure_no_auth=insecure_no_auth)
    config = uvicorn.Config(
        app,
        host=section.host,
        port=section.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=math.ceil(section.drain_timeout_s),
    )
    return DrainingServer(config, app.state.serve)


@dataclass(frozen=True)
class ServeSummary:
    """What a finished ``serve`` did."""

    url: str
    model: str
    requests_logged: int
    log_entries_dropped: int


def serve(
    project: Project,
    *,
    host: str | None = None,
    port: int | None = None,
    model: str | None = None,
    upstream: str | None = None,
    backend: Backend | None = None,
    insecure_no_auth: bool = False,
    progress: Progress = SILENT,
) -> ServeSummary:
    """Serve ``project`` until SIGTERM/SIGINT; options override the ``serve`` section. ``backend``
    defaults to :func:`tuneloop.serve.backends.make_backend` (local engine, or ``upstream``)."""
    overrides = {"host": host, "port": port, "model": model, "upstream": upstream}
    section = project.config.serve.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if backend is None:
        from tuneloop.serve.backends import make_backend

        try:
            backend = make_backend(project, section)
        except BackendError as err:
            raise InvalidInput(err.code, f"cannot serve: {err}") from None
    server = build_server(project, section, backend, insecure_no_auth=insecure_no_auth)
    url = f"http://{section.host}:{section.port}"
    if insecure_no_auth:
        progress.warning(
            "authentication is OFF (--insecure-no-auth): anyone who can reach the port may call it"
        )
    progress.info(f"serving {server.state.router.default_model} on {url}/v1 (Ctrl-C or SIGTERM to stop)")
    server.run()
    log = server.state.request_log
    progress.info(f"stopped; {log.written} requests logged")
    return ServeSummary(url, server.state.router.default_model, log.written, log.dropped)
