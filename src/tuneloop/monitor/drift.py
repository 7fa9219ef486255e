"""``tuneloop monitor drift``: compare a window of production traffic with the training reference.

For each segment (model name, alias, version) of the window: the two embedding tests
(:mod:`.two_sample`; ``monitor.drift.method`` decides), input descriptors and, where answers were
logged, output descriptors (:mod:`.descriptors`), the novel inputs (:mod:`.explain`), and the
segment's sustained-drift state after this window (:mod:`.drift_state`, continued from the segment's
previous stored window). Each segment's result is stored as a ``drift_windows`` row with a JSON and
HTML report, so a scheduler can run the verb once per window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tuneloop.config.monitor import DriftSettings, duration_seconds
from tuneloop.data.embedding_cache import cached_embed
from tuneloop.errors import InvalidInput, Location
from tuneloop.monitor.descriptors import (
    DescriptorResult,
    drifting_descriptors,
    input_descriptors,
    output_descriptors,
)
from tuneloop.monitor.drift_state import DriftState, advance
from tuneloop.monitor.explain import Novelty, novel_inputs
from tuneloop.monitor.reference import Reference, explicit_reference, training_reference
from tuneloop.monitor.traffic import TrafficItem, logged_traffic, read_traffic_file
from tuneloop.monitor.two_sample import TwoSampleResult, classifier_test, mmd_test
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.refs import parse_model_ref
from tuneloop.registry import ModelVersionInfo, get_model_version, get_model_version_by_id
from tuneloop.store import DriftWindowRecord

EMBED_BATCH = 64


@dataclass
class SegmentDrift:
    """The drift check of one segment's window."""

    model_name: str
    alias: str | None
    version: str | None
    source: str
    reference: str
    window_start: datetime | None
    window_end: datetime | None
    n_production: int
    n_reference: int
    method: str
    drift: bool | None
    """None when the window was too small to test."""
    state: DriftState
    tests: list[TwoSampleResult] = field(default_factory=list)
    inputs: list[DescriptorResult] = field(default_factory=list)
    outputs: list[DescriptorResult] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    """Descriptors that moved (Bonferroni over all descriptors at the configured level)."""
    novelty: Novelty | None = None
    note: str | None = None
    window_id: int | None = None
    report_html: Path | None = None

    @property
    def deciding_test(self) -> TwoSampleResult | None:
        return next((t for t in self.tests if t.method == self.method), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "alias": self.alias,
            "version": self.version,
            "source": self.source,
            "reference": self.reference,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "n_production": self.n_production,
            "n_reference": self.n_reference,
            "method": self.method,
            "drift": self.drift,
            "state": self.state.to_dict(),
            "tests": [t.to_dict() for t in self.tests],
            "input_descriptors": [d.to_dict() for d in self.inputs],
            "output_descriptors": [d.to_dict() for d in self.outputs],
            "moved_descriptors": self.moved,
            "novelty": self.novelty.to_dict() if self.novelty else None,
            "note": self.note,
            "window_id": self.window_id,
        }


@dataclass(frozen=True)
class Window:
    start: datetime | None
    end: datetime | None


def window_of(default_window: str, window: str | None, since: datetime | None, now: datetime) -> Window:
    """``--since`` wins over ``--window``; without either, the configured window ending now."""
    if since is not None:
        return Window(since if since.tzinfo else since.replace(tzinfo=UTC), now)
    text = window or default_window
    try:
        seconds = duration_seconds(text)
    except ValueError as exc:
        raise InvalidInput("invalid_window", str(exc), Location(field="window")) from None
    return Window(now - timedelta(seconds=seconds), now)


def drift(
    project: Project,
    model: str,
    *,
    window: str | None = None,
    since: datetime | None = None,
    production_file: Path | None = None,
    reference: str | None = None,
    now: datetime | None = None,
    record: bool = True,
    progress: Progress = SILENT,
) -> list[SegmentDrift]:
    """Check the drift of ``model`` (``name@alias``, ``name:N`` or ``name``) and store each segment
    (``record=False``: compute only, for a dry run; the drift state does not advance in the store)."""
    settings = project.config.monitor.drift
    ref = parse_model_ref(model)
    if ref.kind not in ("alias", "version", "name"):
        raise InvalidInput("invalid_model", f"monitor a registered model (name@alias or name:N), not {model!r}",
                           Location(field="model"))  # fmt: skip
    span = window_of(settings.window, window, since, now or datetime.now(UTC))
    if production_file is not None:
        items = read_traffic_file(production_file)
        current = get_model_version(project, model) if ref.kind in ("alias", "version") else None
        groups = {current.id if current else None: items}
        source = str(production_file)
    else:
        logged = logged_traffic(project, ref.name, alias=ref.alias, since=span.start, until=span.end)
        if ref.kind == "version":
            logged = [item for item in logged if item.model_reference == f"{ref.name}:{ref.version}"]
        groups = _by_version(logged)
        source = "request log"
        if not groups:
            current = get_model_version(project, model) if ref.kind in ("alias", "version") else None
            groups = {current.id if current else None: []}
    results = []
    for version_id, items in groups.items():
        version = get_model_version_by_id(project, version_id) if version_id is not None else None
        segment = _check_segment(project, settings, ref.name, ref.alias, version, items, reference, progress)
        segment.source, segment.window_start, segment.window_end = source, span.start, span.end
        if production_file is not None:
            segment.window_start = segment.window_end = None
        if record:
            _store(project, segment, version)
        results.append(segment)
    return results


def _by_version(items: list[TrafficItem]) -> dict[int | None, list[TrafficItem]]:
    groups: dict[int | None, list[TrafficItem]] = {}
    for item in items:
        groups.setdefault(item.model_version_id, []).append(item)
    return groups


def _check_segment(
    project: Project,
    settings: DriftSettings,
    name: str,
    alias: str | None,
    version: ModelVersionInfo | None,
    items: list[TrafficItem],
    reference: str | None,
    progress: Progress,
) -> SegmentDrift:
    base = _reference(project, version, reference)
    previous = _previous_state(project, name, alias, version)
    segment = SegmentDrift(
        model_name=name, alias=alias, version=version.reference if version else None, source="",
        reference=base.description, window_start=None, window_end=None, n_production=len(items),
        n_reference=len(base.prompts), method=settings.method, drift=None, state=previous,
    )  # fmt: skip
    if len(items) < settings.min_window or len(base.prompts) < settings.min_window:
        segment.note = (
            f"too few inputs to test: {len(items)} in production, {len(base.prompts)} in the reference "
            f"(monitor.drift.min_window is {settings.min_window}); the drift state is unchanged"
        )
        return segment
    prompts = [item.prompt for item in items]
    with progress.task("embedding production and reference inputs", total=None):
        production_vectors = cached_embed(prompts, EMBED_BATCH, project.cache_dir / "embeddings")
        reference_vectors = cached_embed(base.prompts, EMBED_BATCH, project.cache_dir / "embeddings")
    alpha, permutations, cap = settings.alpha, settings.permutations, settings.max_per_side
    segment.tests = [
        mmd_test(
            reference_vectors, production_vectors, alpha=alpha, permutations=permutations, max_per_side=cap
        ),
        classifier_test(
            reference_vectors, production_vectors, alpha=alpha, permutations=permutations, max_per_side=cap
        ),
    ]
    categories = [item.category for item in items]
    segment.inputs = input_descriptors(
        base.prompts, prompts,
        reference_categories=base.categories,
        production_categories=[c for c in categories if c] if all(categories) else None,
    )  # fmt: skip
    answers = [item.response for item in items if item.response is not None]
    if answers and base.responses:
        segment.outputs = output_descriptors(base.responses, answers)
    segment.moved = [
        d.name for d in drifting_descriptors([*segment.inputs, *segment.outputs], settings.alpha)
    ]
    segment.novelty = novel_inputs(prompts, production_vectors, base.prompts, reference_vectors,
                                   threshold=settings.novel_similarity)  # fmt: skip
    deciding = segment.deciding_test
    segment.drift = bool(deciding and deciding.drift)
    segment.state = advance(
        previous, segment.drift, sustain=settings.sustain_windows, recover=settings.recover_windows
    )
    return segment


def _reference(project: Project, version: ModelVersionInfo | None, reference: str | None) -> Reference:
    if reference is not None:
        return explicit_reference(project, reference)
    if version is None:
        raise InvalidInput(
            "no_reference",
            "this traffic names no registered version to take the training data from; pass --reference",
            Location(field="reference"),
        )
    return training_reference(project, version)


def _segment_query(name: str, alias: str | None, version: ModelVersionInfo | None) -> Any:
    return (
        select(DriftWindowRecord)
        .where(
            DriftWindowRecord.model_name == name,
            DriftWindowRecord.alias.is_(None) if alias is None else DriftWindowRecord.alias == alias,
            DriftWindowRecord.model_version_id.is_(None)
            if version is None
            else DriftWindowRecord.model_version_id == version.id,
        )
        .order_by(DriftWindowRecord.id.desc())
    )


def _previous_state(
    project: Project, name: str, alias: str | None, version: ModelVersionInfo | None
) -> DriftState:
    with project.store.session() as session:
        last = session.scalars(_segment_query(name, alias, version).limit(1)).first()
        return DriftState.from_dict(last.state_detail) if last and last.state_detail else DriftState()


def segment_history(
    project: Project, name: str, alias: str | None, version: ModelVersionInfo | None
) -> list[dict[str, Any]]:
    """The stored windows of one segment, oldest first (for the drift-over-time chart)."""
    with project.store.session() as session:
        rows = list(session.scalars(_segment_query(name, alias, version)))
        return [
            {"id": r.id, "created_at": r.created_at, "statistic": r.statistic, "p_value": r.p_value,
             "drift": r.drift, "state": r.state, "n_production": r.n_production}
            for r in reversed(rows)
        ]  # fmt: skip


def _store(project: Project, segment: SegmentDrift, version: ModelVersionInfo | None) -> None:
    """Save the report, then the window's row with it, in one transaction (all or nothing)."""
    from tuneloop.monitor.report import save_drift_report

    deciding = segment.deciding_test
    history = segment_history(project, segment.model_name, segment.alias, version)
    saved = save_drift_report(project, segment, history)
    with project.store.session() as session:
        record = DriftWindowRecord(
            model_name=segment.model_name,
            alias=segment.alias,
            model_version_id=version.id if version else None,
            model_reference=segment.version,
            window_start=segment.window_start,
            window_end=segment.window_end,
            source=segment.source,
            reference=segment.reference,
            n_production=segment.n_production,
            n_reference=segment.n_reference,
            method=segment.method,
            statistic=deciding.statistic if deciding else None,
            p_value=deciding.p_value if deciding else None,
            drift=segment.drift,
            state=segment.state.state,
            state_detail=segment.state.to_dict(),
            result=segment.to_dict(),
            report_json_sha256=saved.json_sha256,
            report_html_sha256=saved.html_sha256,
        )
        session.add(record)
        session.flush()
        segment.window_id = record.id
    segment.report_html = saved.html_path
