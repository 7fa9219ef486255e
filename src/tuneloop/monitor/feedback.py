"""Feedback on logged responses: a summary per model version, and corrected answers curated into
training candidates.

``POST /v1/feedback`` attaches a rating and/or a corrected answer to a logged response. A corrected
answer is the most valuable production signal: the prompt the model saw and the answer it should
have given. :func:`curate_feedback` turns them into a dataset version of conversations, after

1. PII redaction with the data stage's detectors (``data.sensitive`` settings), because production
   prompts carry customers' data that must not be trained into a model;
2. a leakage guard: any candidate that duplicates (exactly or nearly, the data stage's MinHash index)
   an item of the project's evaluation suites or its holdout is dropped, so retraining on feedback
   cannot inflate the next evaluation.

Each record's source is ``request_log/<response id>``, so the lineage of a retrained model leads back
to the logged requests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from tuneloop.data.contamination import cross_split_matches
from tuneloop.data.records import Conversation, Message, Record, SourceRef
from tuneloop.data.sensitive import redact_text
from tuneloop.data.versions import DatasetVersionInfo, register_dataset_version
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.store import FeedbackRecord, RequestLogRecord

CURATED_PREFIX = "curated-"
"""Curated feedback of model ``support`` becomes dataset versions named ``curated-support``."""


@dataclass(frozen=True)
class VersionFeedback:
    """Feedback on one model version's logged responses."""

    model_reference: str
    responses: int
    rated: int
    mean_rating: float | None
    corrected: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feedback_summary(project: Project, name: str, *, since: datetime | None = None) -> list[VersionFeedback]:
    """Per version of ``name``: logged responses, ratings (count, mean) and corrected answers."""
    logged = select(RequestLogRecord.model_reference, func.count()).where(RequestLogRecord.model_name == name)
    rated = (
        select(RequestLogRecord.model_reference, func.count(FeedbackRecord.rating), func.avg(FeedbackRecord.rating),
               func.count(FeedbackRecord.corrected_answer))
        .join(FeedbackRecord, FeedbackRecord.request_id == RequestLogRecord.id)
        .where(RequestLogRecord.model_name == name)
    )  # fmt: skip
    if since is not None:
        logged = logged.where(RequestLogRecord.created_at >= since)
        rated = rated.where(FeedbackRecord.created_at >= since)
    with project.store.session() as session:
        counts = dict(session.execute(logged.group_by(RequestLogRecord.model_reference)).tuples().all())
        feedback = {
            row[0]: row[1:] for row in session.execute(rated.group_by(RequestLogRecord.model_reference))
        }
    summaries = []
    for reference in sorted(counts):
        n_rated, mean, n_corrected = feedback.get(reference, (0, None, 0))
        summaries.append(
            VersionFeedback(
                reference,
                int(counts[reference]),
                int(n_rated),
                float(mean) if mean is not None else None,
                int(n_corrected),
            )
        )
    return summaries


@dataclass
class Curation:
    """What :func:`curate_feedback` kept and dropped, and the dataset version it registered."""

    considered: int = 0
    kept: int = 0
    redactions: int = 0
    """PII spans replaced in the kept examples."""
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_examples: list[dict[str, str]] = field(default_factory=list)
    dataset_version: DatasetVersionInfo | None = None
    records: list[Conversation] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        version = self.dataset_version
        return {
            "considered": self.considered, "kept": self.kept, "redactions": self.redactions,
            "dropped": self.dropped, "dropped_examples": self.dropped_examples,
            "dataset_version": {"id": version.id, "name": version.name, "digest": version.digest,
                                "records": version.num_records} if version else None,
        }  # fmt: skip


def corrected_answers(
    project: Project, name: str, since: datetime | None
) -> list[tuple[RequestLogRecord, str]]:
    """Logged requests of ``name`` with a corrected answer (the newest correction per request)."""
    query = (
        select(RequestLogRecord, FeedbackRecord.corrected_answer)
        .join(FeedbackRecord, FeedbackRecord.request_id == RequestLogRecord.id)
        .where(RequestLogRecord.model_name == name, FeedbackRecord.corrected_answer.is_not(None))
        .order_by(FeedbackRecord.id)
    )
    if since is not None:
        query = query.where(FeedbackRecord.created_at >= since)
    newest: dict[str, tuple[RequestLogRecord, str]] = {}
    with project.store.session() as session:
        for request, corrected in session.execute(query).tuples():
            if corrected is not None and corrected.strip():
                newest[request.id] = (request, corrected)
    return list(newest.values())


def _conversation(request: RequestLogRecord, corrected: str) -> Conversation | None:
    messages = (request.request or {}).get("messages")
    if not isinstance(messages, list):
        prompt = (request.request or {}).get("prompt")
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else []
    turns = [Message(role=m["role"], content=m["content"]) for m in messages
             if isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)]  # fmt: skip
    if not any(turn.role == "user" for turn in turns):
        return None
    return Conversation(
        messages=[*turns, Message(role="assistant", content=corrected)],
        source=SourceRef(file=f"request_log/{request.id}", line=1),
    )


def _redacted(conversation: Conversation, project: Project) -> tuple[Conversation, int]:
    settings = project.config.data.sensitive
    total, messages = 0, []
    for message in conversation.messages:
        text, found = redact_text(message.content, settings)
        total += len(found)
        messages.append(message.model_copy(update={"content": text}))
    return conversation.model_copy(update={"messages": messages}), total


def evaluation_records(project: Project) -> list[Record]:
    """Every item of the project's suites and its holdout, as records (what retraining must not see)."""
    from tuneloop.data.load import load_records
    from tuneloop.evaluate.items import load_items
    from tuneloop.evaluate.suites import load_suite

    records: list[Record] = []
    for reference in project.config.eval.suites:
        for item in load_items(load_suite(reference, project), project):
            turns = [Message(role=m["role"], content=m["content"]) for m in item.messages
                     if m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)]  # fmt: skip
            if item.reference:
                turns.append(Message(role="assistant", content=item.reference))
            if any(turn.role == "user" for turn in turns):
                records.append(
                    Conversation(messages=turns, source=SourceRef(file=item.source or "suite", line=1))
                )
    holdout = [project.resolve_path(path) for path in project.config.data.holdout]
    if holdout:
        records += load_records(holdout, tag_fields=project.config.data.tag_fields)
    return records


def curate_feedback(
    project: Project,
    name: str,
    *,
    since: datetime | None = None,
    register: bool = True,
    progress: Progress = SILENT,
) -> Curation:
    """Corrected answers of ``name`` as a redacted, leak-free dataset version ``curated-<name>``
    (``register=False``: count only, for a dry run; :attr:`Curation.records` holds them either way)."""
    result = Curation()
    candidates: list[Conversation] = []
    for request, corrected in corrected_answers(project, name, since):
        result.considered += 1
        conversation = _conversation(request, corrected)
        if conversation is None:
            _drop(result, "no_user_turn", request.id, "the logged request has no user message")
            continue
        redacted, count = _redacted(conversation, project)
        candidates.append(redacted)
        result.redactions += count
    kept = candidates
    if candidates:
        with progress.task("checking feedback against the evaluation items", total=None):
            evaluation = evaluation_records(project)
            leaks = (
                cross_split_matches(evaluation, list(candidates), project.config.data.dedup)
                if evaluation
                else {}
            )
        for index in sorted(leaks):
            _drop(result, "duplicates_evaluation_item", candidates[index].source.file, leaks[index].reason)
        kept = [c for i, c in enumerate(candidates) if i not in leaks]
    result.kept = len(kept)
    result.records = list(kept)
    if kept and register:
        result.dataset_version = register_dataset_version(
            project, list(kept), name=f"{CURATED_PREFIX}{name}", source_files=["request_log"],
            stats={"considered": result.considered, "dropped": result.dropped, "redactions": result.redactions},
        )  # fmt: skip
    progress.info(f"curated {result.kept} of {result.considered} corrected answers")
    return result


def _drop(result: Curation, reason: str, source: str, detail: str) -> None:
    result.dropped[reason] = result.dropped.get(reason, 0) + 1
    result.dropped_examples.append({"source": source, "reason": reason, "detail": detail})
