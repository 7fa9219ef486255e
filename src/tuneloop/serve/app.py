"""The OpenAI-compatible HTTP app: ``create_app(project, section, backend)``.

Endpoints: ``POST /v1/chat/completions`` and ``POST /v1/completions`` (JSON or SSE streaming),
``GET /v1/models``, ``POST /v1/feedback``, ``GET /health`` (no key), ``GET /ready`` (503 until the
backend is loaded, and while draining), ``GET /metrics`` (Prometheus). Every endpoint but ``/health``
needs ``Authorization: Bearer <key>`` unless the app is built with ``insecure_no_auth``.

A request is validated, its key checked against the model's scope, and its model name resolved to one
exact :class:`~tuneloop.serve.backend.Target` before generation starts, so a promote landing mid-way
changes only later requests. Timeouts (504) and client disconnects cancel the generation; the
answering itself lives in :mod:`tuneloop.serve.answer`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tuneloop.config.serve import ServeSection
from tuneloop.errors import NotFound, TuneloopError
from tuneloop.project import Project
from tuneloop.serve import schemas
from tuneloop.serve.answer import ServeState, answer
from tuneloop.serve.backend import Backend
from tuneloop.serve.errors import ApiError, forbidden, internal_error, not_found, not_ready, unauthorized
from tuneloop.serve.keys import ApiKeyInfo, authenticate
from tuneloop.serve.metrics import CONTENT_TYPE, ServeMetrics
from tuneloop.serve.request_log import RequestLog
from tuneloop.serve.routing import Router
from tuneloop.store import FeedbackRecord, RequestLogRecord

log = logging.getLogger("tuneloop.serve")

_ENDPOINTS = {
    "/v1/chat/completions": "chat.completions",
    "/v1/completions": "completions",
    "/v1/models": "models",
    "/v1/feedback": "feedback",
    "/health": "health",
    "/ready": "ready",
    "/metrics": "metrics",
}


def create_app(
    project: Project,
    section: ServeSection,
    backend: Backend,
    *,
    insecure_no_auth: bool = False,
    router: Router | None = None,
    request_log: RequestLog | None = None,
) -> FastAPI:
    """The server app. ``router`` and ``request_log`` default to ones built from ``project`` and
    ``section``; the backend is started when the app starts (in the background: ``/health`` answers
    at once, ``/ready`` once the default model is loaded) and stopped, draining, when it stops."""
    state = ServeState(
        project=project,
        section=section,
        backend=backend,
        router=router or Router(project, section),
        request_log=request_log
        or RequestLog(
            project,
            enabled=section.log_requests,
            redact=project.config.data.sensitive if section.redact_logged_pii else None,
        ),
        metrics=ServeMetrics(lambda: backend.queue_depth),
        insecure_no_auth=insecure_no_auth,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        starting = asyncio.create_task(_start_backend(state))
        try:
            yield
        finally:
            state.draining = True
            if not starting.done():
                starting.cancel()
            await backend.stop(section.drain_timeout_s)
            await anyio.to_thread.run_sync(state.request_log.close)

    app = FastAPI(title="tuneloop", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.serve = state
    _add_error_handlers(app)
    _add_routes(app, state)
    app.add_middleware(_AccessLog, state=state)
    return app


async def _start_backend(state: ServeState) -> None:
    try:
        await state.backend.start()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        state.start_error = f"{type(exc).__name__}: {exc}"
        log.exception("the backend failed to start")


def _add_routes(app: FastAPI, state: ServeState) -> None:
    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        key = await _authorize(request, state)
        return await answer(request, state, key, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        key = await _authorize(request, state)
        return await answer(request, state, key, chat=False)

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        key = await _authorize(request, state)
        names = await anyio.to_thread.run_sync(state.router.servable_models)
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": state.project.config.project.name}
                for name in names
                if key is None or key.may_call(name)
            ],
        }

    @app.post("/v1/feedback")
    async def feedback(request: Request) -> dict[str, Any]:
        key = await _authorize(request, state)
        if key is not None and not key.can_feedback:
            raise forbidden(f"the API key '{key.name}' may not send feedback")
        body = schemas.parse_request(schemas.FeedbackRequest, await state.read_json(request))
        if body.rating is None and body.corrected_answer is None:
            raise ApiError(
                422, "send a rating, a corrected_answer or both", code="invalid_value", param="rating"
            )
        feedback_id = await anyio.to_thread.run_sync(_attach_feedback, state, body, key)
        return {"id": feedback_id, "object": "feedback", "request_id": body.id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request) -> dict[str, Any]:
        await _authorize(request, state)
        if state.draining:
            raise not_ready("the server is shutting down")
        if not state.backend.ready:
            raise not_ready(state.not_ready_reason())
        return {
            "status": "ready",
            "model": state.router.default_model,
            "queue_depth": state.backend.queue_depth,
        }

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        await _authorize(request, state)
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)


def _attach_feedback(state: ServeState, body: schemas.FeedbackRequest, key: ApiKeyInfo | None) -> int:
    # The answer being rated may still sit in the log's queue: write it first.
    state.request_log.flush()
    with state.project.store.session() as session:
        logged = session.scalars(select(RequestLogRecord.id).where(RequestLogRecord.id == body.id)).first()
        if logged is None:
            raise not_found(f"no logged response with id '{body.id}'", param="id", code="unknown_request_id")
        record = FeedbackRecord(
            request_id=body.id,
            rating=body.rating,
            corrected_answer=body.corrected_answer,
            comment=body.comment,
            api_key_name=key.name if key else None,
        )
        session.add(record)
        session.flush()
        return record.id


async def _authorize(request: Request, state: ServeState) -> ApiKeyInfo | None:
    """The caller's key (None when auth is off); 401 when missing, unknown or revoked."""
    if state.insecure_no_auth:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise unauthorized()
    key = await anyio.to_thread.run_sync(authenticate, state.project, secret.strip())
    if key is None:
        raise unauthorized("the API key is unknown or revoked")
    request.scope["tuneloop.key"] = key.name
    return key


def _add_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = "not_found" if exc.status_code == 404 else "http_error"
        return ApiError(exc.status_code, str(exc.detail), code=code).response()

    async def stage_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TuneloopError)
        status = 404 if isinstance(exc, NotFound) else 400
        return ApiError(status, exc.message, code=exc.code).response()

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
        return internal_error().response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(TuneloopError, stage_error)
    app.add_exception_handler(Exception, unexpected)


class _AccessLog:
    """Pure ASGI middleware (it must not buffer streams): one log line and the metrics per request."""

    def __init__(self, app: ASGIApp, state: ServeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        self.state.metrics.in_flight.inc()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.state.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            status = scope.get("tuneloop.status", status)
            endpoint = _ENDPOINTS.get(scope["path"], "other")
            model = scope.get("tuneloop.model", "-")
            self.state.metrics.observe(endpoint, model, status, elapsed)
            if endpoint not in ("health", "metrics", "ready"):
                log.info(
                    "%s %s model=%s status=%d latency_ms=%.1f key=%s",
                    scope["method"],
                    scope["path"],
                    model,
                    status,
                    elapsed * 1000,
                    scope.get("tuneloop.key", "-"),
                )
