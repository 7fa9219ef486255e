"""The request log: every served request and its answer, written to the store off the request path.

Requests hand a :class:`LoggedRequest` to :meth:`RequestLog.submit`, which only puts it on a bounded
in-memory queue; one background thread writes what is queued in batches (one transaction per batch)
and, when the server is told to, redacts PII with the data stage's detectors first (in that thread,
so redaction never slows an answer). ``flush()`` waits until everything submitted is written
(feedback calls it before looking a response up); ``close()`` flushes and stops the thread, so nothing
accepted is lost on a clean stop. A full queue drops the entry and counts it (``dropped``) rather than
block generation.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from tuneloop.config.data import SensitiveSettings
from tuneloop.data.sensitive import redact_value
from tuneloop.project import Project
from tuneloop.store import RequestLogRecord

log = logging.getLogger("tuneloop.serve")


@dataclass
class LoggedRequest:
    """One row of the request log (the fields of :class:`~tuneloop.store.RequestLogRecord`)."""

    id: str
    endpoint: str
    model_requested: str
    model_name: str
    model_reference: str
    status_code: int
    latency_ms: float
    model_version_id: int | None = None
    alias: str | None = None
    api_key_name: str | None = None
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


_STOP = object()


class RequestLog:
    """A bounded queue of :class:`LoggedRequest` and the thread that writes it to the store."""

    def __init__(
        self,
        project: Project,
        *,
        enabled: bool = True,
        redact: SensitiveSettings | None = None,
        max_pending: int = 10_000,
        batch_size: int = 200,
    ) -> None:
        self.project = project
        self.enabled = enabled
        self.redact = redact
        self.batch_size = batch_size
        self.dropped = 0
        self.written = 0
        self.failed = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._done = threading.Condition()
        self._submitted = 0
        self._processed = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="tuneloop-request-log", daemon=True)
        if enabled:
            self._thread.start()

    def submit(self, entry: LoggedRequest) -> bool:
        """Queue ``entry`` for writing; never blocks. False when logging is off, closed or full."""
        if not self.enabled or self._closed:
            return False
        with self._done:
            try:
                self._queue.put_nowait(entry)
            except queue.Full:
                self.dropped += 1
                log.warning("request log queue full: entry %s dropped", entry.id)
                return False
            self._submitted += 1
        return True

    def flush(self, timeout_s: float | None = 30.0) -> bool:
        """Wait until every entry submitted so far is written (or failed); False on timeout."""
        with self._done:
            target = self._submitted
            return self._done.wait_for(lambda: self._processed >= target, timeout=timeout_s)

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[LoggedRequest] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, LoggedRequest)
                    batch.append(item)
                if stopping or len(batch) >= self.batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            with self._done:
                self._processed += len(batch)
                self._done.notify_all()

    def _write(self, batch: list[LoggedRequest]) -> None:
        rows = [self._row(entry) for entry in batch]
        try:
            with self.project.store.session() as session:
                session.add_all(rows)
            self.written += len(rows)
        except Exception:
            # One bad row must not lose its batch: write the rows one by one.
            log.exception("writing %d request log rows failed; retrying one by one", len(rows))
            for entry in batch:
                self._write_one(entry)

    def _write_one(self, entry: LoggedRequest) -> None:
        try:
            with self.project.store.session() as session:
                session.add(self._row(entry))
            self.written += 1
        except Exception:
            self.failed += 1
            log.exception("request log row %s could not be written", entry.id)

    def _row(self, entry: LoggedRequest) -> RequestLogRecord:
        values = asdict(entry)
        if self.redact is not None:
            values["request"], _ = redact_value(values["request"], self.redact)
            values["response"], _ = redact_value(values["response"], self.redact)
        return RequestLogRecord(**values)
