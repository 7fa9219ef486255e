"""Production traffic for monitoring: from the server's request log, or from files of logged requests.

Traffic served elsewhere (a vLLM fleet, an API gateway) counts too: a JSONL file of chat requests,
each optionally with its response and timestamp, is read by :func:`read_traffic_file` (every problem
named by file, line and field) and can be appended to the request log by :func:`ingest`, after which
it is monitored like the server's own traffic.

A file row is any of::

    {"messages": [...], "response": "...", "created_at": "2026-11-30T12:00:00Z", "model": "support@production"}
    {"messages": [..., {"role": "assistant", "content": "the answer"}]}      # the answer as the last turn
    {"prompt": "...", "response": {"choices": [{"message": {"content": "..."}}]}}   # an OpenAI response
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tuneloop.data.problems import ProblemLog
from tuneloop.data.production import prompt_of
from tuneloop.data.readers import read_rows
from tuneloop.errors import InvalidInput
from tuneloop.project import Project
from tuneloop.registry import ModelVersionInfo, get_model_version
from tuneloop.store import RequestLogRecord

MAX_LINE_BYTES = 4 * 1024 * 1024
INGESTED = "ingested"
"""The request log's ``endpoint`` for traffic appended from files."""


@dataclass(frozen=True)
class TrafficItem:
    """One production request: what the user sent and, when known, what the model answered."""

    prompt: str
    response: str | None
    created_at: datetime | None
    model_name: str | None = None
    model_reference: str | None = None
    alias: str | None = None
    model_version_id: int | None = None
    request_id: str | None = None
    source: str = "request log"
    """``request log`` or ``<file>:<line>``."""
    category: str | None = None


def response_of(value: dict[str, Any]) -> str | None:
    """The answer in one logged row: ``response`` (text or an OpenAI response), else the last
    assistant message."""
    response = value.get("response")
    if isinstance(response, str):
        return response
    if isinstance(response, dict):
        choices = response.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            first = choices[0]
            message = first.get("message")
            text = message.get("content") if isinstance(message, dict) else first.get("text")
            return text if isinstance(text, str) else None
    messages = value.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        last = messages[-1]
        if last.get("role") == "assistant" and isinstance(last.get("content"), str):
            return last["content"]
    return None


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError("not a timestamp")


def read_traffic_file(path: Path, *, category_field: str | None = None) -> list[TrafficItem]:
    """Every request in ``path``; raises :class:`~tuneloop.data.problems.DataInvalid` naming each bad
    row (file, line, field) and reads nothing when any row is bad."""
    log = ProblemLog()
    name = str(path)
    if not path.is_file():
        log.error("file_not_found", "no such file", name)
        log.raise_if_errors()
    items = []
    for row in read_rows(path, name, log, max_line_bytes=MAX_LINE_BYTES):
        if not isinstance(row.value, dict):
            log.error("data_type", "each row must be a JSON object", name, row.line)
            continue
        prompt = prompt_of(row.value)
        if prompt is None or not prompt.strip():
            log.error(
                "missing_key", "no prompt found (expected messages or prompt)", name, row.line, "messages"
            )
            continue
        stamp_field = next((key for key in ("created_at", "timestamp", "created") if key in row.value), None)
        created = None
        if stamp_field is not None:
            try:
                created = _timestamp(row.value[stamp_field])
            except (ValueError, OverflowError, OSError):
                log.error(
                    "wrong_type", "not an ISO 8601 time or a Unix timestamp", name, row.line, stamp_field
                )
                continue
        model = row.value.get("model")
        category = row.value.get(category_field) if category_field else None
        items.append(
            TrafficItem(
                prompt=prompt,
                response=response_of(row.value),
                created_at=created,
                model_name=model if isinstance(model, str) else None,
                source=f"{name}:{row.line}",
                category=str(category) if isinstance(category, str | int) else None,
            )
        )
    log.raise_if_errors()
    return items


def logged_traffic(
    project: Project,
    name: str,
    *,
    alias: str | None = None,
    version_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[TrafficItem]:
    """Successful requests answered for model ``name`` in ``[since, until)``, oldest first."""
    query = (
        select(RequestLogRecord)
        .where(RequestLogRecord.model_name == name, RequestLogRecord.status_code == 200)
        .order_by(RequestLogRecord.created_at)
    )
    if alias is not None:
        query = query.where(RequestLogRecord.alias == alias)
    if version_id is not None:
        query = query.where(RequestLogRecord.model_version_id == version_id)
    if since is not None:
        query = query.where(RequestLogRecord.created_at >= since)
    if until is not None:
        query = query.where(RequestLogRecord.created_at < until)
    with project.store.session() as session:
        return [_item_of(record) for record in session.scalars(query)]


def _item_of(record: RequestLogRecord) -> TrafficItem:
    request = record.request or {}
    response = record.response or {}
    choices = response.get("choices") or []
    answer = choices[0].get("text") if choices and isinstance(choices[0], dict) else None
    return TrafficItem(
        prompt=prompt_of(request) or "",
        response=answer if isinstance(answer, str) else None,
        created_at=record.created_at,
        model_name=record.model_name,
        model_reference=record.model_reference,
        alias=record.alias,
        model_version_id=record.model_version_id,
        request_id=record.id,
    )


def _ingest_id(path: Path, line: int, item: TrafficItem) -> str:
    """A stable id per file row: ingesting the same file twice does not count its requests twice."""
    key = json.dumps([path.name, line, item.prompt, item.response], ensure_ascii=False)
    return f"ingest-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def ingest(project: Project, path: Path, *, model: str) -> tuple[int, int]:
    """Append the requests of ``path`` to the request log as traffic of ``model`` (``name@alias`` or
    ``name:N``; a row's own ``model`` field wins); all rows or none. Returns (added, already present).

    A registered reference is recorded with the exact version it names now (an alias's current
    target), so drift compares each row with the training data of the version that answered it."""
    items = read_traffic_file(path)
    now = datetime.now(UTC)
    versions = {ref: _version_of(project, ref) for ref in {item.model_name or model for item in items}}
    added = present = 0
    with project.store.session() as session:
        for item in items:
            line = int(item.source.rsplit(":", 1)[1])
            request_id = _ingest_id(path, line, item)
            if session.get(RequestLogRecord, request_id) is not None:
                present += 1
                continue
            requested = item.model_name or model
            name, row_alias = _split_model(requested)
            version = versions[requested]
            session.add(
                RequestLogRecord(
                    id=request_id,
                    created_at=item.created_at or now,
                    endpoint=INGESTED,
                    model_requested=requested,
                    model_name=name,
                    model_reference=version.reference if version else requested,
                    model_version_id=version.id if version else None,
                    alias=row_alias,
                    status_code=200,
                    stream=False,
                    latency_ms=0.0,
                    request={"messages": [{"role": "user", "content": item.prompt}], "source": item.source},
                    response={"choices": [{"text": item.response}]} if item.response is not None else {},
                )
            )
            added += 1
    return added, present


def _version_of(project: Project, reference: str) -> ModelVersionInfo | None:
    try:
        return get_model_version(project, reference)
    except InvalidInput:  # NotFound included: an unregistered name is monitored by name only
        return None


def _split_model(reference: str) -> tuple[str, str | None]:
    """``support@production`` -> (support, production); ``support:3`` -> (support, None)."""
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return name, alias
    return reference.split(":", 1)[0] if not reference.startswith("base:") else reference, None
