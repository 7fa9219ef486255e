"""``tuneloop monitor evaluate``: score a sample of logged production answers, over time, and alert on a drop.

Production has no references, so only reference-free metrics apply: format validity (``json_valid``,
``json_schema``, ``regex``), refusals, length, and judges (``judge_rubric``). They are the evaluation
stage's own metrics (:mod:`tuneloop.evaluate.metrics`), scored the same way as offline.

Each run samples ``sample_share`` of a window's logged answers per model version (seeded), scores
them, stores the per-metric means with their per-response values (``online_evaluations``), and
compares each metric with the pooled responses of the version's previous ``baseline_windows``
windows: an alert needs both a drop of at least ``alert_drop`` and Welch's t-test significant at
``alpha``, so one unlucky sample does not page anyone.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from tuneloop.config.monitor import OnlineEvalSettings
from tuneloop.evaluate.items import EvalItem
from tuneloop.evaluate.metrics import (
    MetricOptions,
    ScoringContext,
    ScoringInput,
    parse_metric_options,
    score_outputs,
)
from tuneloop.monitor.drift import Window, window_of
from tuneloop.monitor.traffic import TrafficItem, logged_traffic
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.refs import parse_model_ref
from tuneloop.registry import get_model_version_by_id
from tuneloop.store import OnlineEvaluationRecord

DEFAULT_METRICS = ("refusal_rate",)


@dataclass(frozen=True)
class MetricSummary:
    name: str
    mean: float
    std: float
    count: int
    higher_is_better: bool | None
    values: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "count": self.count,
                "higher_is_better": self.higher_is_better, "values": self.values}  # fmt: skip


@dataclass(frozen=True)
class Alert:
    metric: str
    baseline: float
    current: float
    change: float
    """current - baseline."""
    p_value: float
    baseline_windows: int

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def describe(self) -> str:
        return (f"{self.metric} fell from {self.baseline:.3f} to {self.current:.3f} "
                f"(p = {self.p_value:.2g}, against {self.baseline_windows} earlier windows)")  # fmt: skip


@dataclass
class OnlineEvaluation:
    """One version's scored sample of one window."""

    model_name: str
    alias: str | None
    version: str | None
    window: Window
    n_logged: int
    n_scored: int
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    note: str | None = None
    record_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name, "alias": self.alias, "version": self.version,
            "window_start": self.window.start.isoformat() if self.window.start else None,
            "window_end": self.window.end.isoformat() if self.window.end else None,
            "n_logged": self.n_logged, "n_scored": self.n_scored,
            "metrics": {name: {k: v for k, v in m.to_dict().items() if k != "values"} for name, m in self.metrics.items()},
            "alerts": [a.to_dict() for a in self.alerts], "note": self.note, "record_id": self.record_id,
        }  # fmt: skip


def online_metrics(project: Project, settings: OnlineEvalSettings) -> tuple[list[MetricOptions], Any]:
    """The metrics to score and the folder their relative paths are read from."""
    from tuneloop.evaluate.metrics import get_metric

    if settings.metrics is not None:
        return [parse_metric_options(entry) for entry in settings.metrics], project.root
    suites = project.config.eval.suites
    chosen: list[MetricOptions] = []
    base_dir = project.root
    if suites:
        from tuneloop.evaluate.suites import load_suite

        loaded = load_suite(suites[0], project)
        base_dir = loaded.base_dir
        for options in loaded.suite.metrics:
            definition = get_metric(options.name)
            if not (
                definition.needs_reference
                or definition.pairwise
                or definition.sampling
                or options.name == "latency"
            ):
                chosen.append(options)
    names = {options.name for options in chosen}
    chosen += [parse_metric_options(name) for name in DEFAULT_METRICS if name not in names]
    return chosen, base_dir


def evaluate_online(
    project: Project,
    model: str,
    *,
    window: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    seed: int = 0,
    judge_backend: Any = None,
    record: bool = True,
    progress: Progress = SILENT,
) -> list[OnlineEvaluation]:
    """Score a sample of the window's logged answers of ``model`` (``name@alias``) per version; store
    each (``record=False``: compute only, for a dry run)."""
    settings = project.config.monitor.evaluate
    ref = parse_model_ref(model)
    span = window_of(settings.window, window, since, now or datetime.now(UTC))
    logged = [item for item in logged_traffic(project, ref.name, alias=ref.alias, since=span.start, until=span.end)
              if item.response is not None]  # fmt: skip
    groups: dict[int | None, list[TrafficItem]] = {}
    for item in logged:
        groups.setdefault(item.model_version_id, []).append(item)
    metrics, base_dir = online_metrics(project, settings)
    context = ScoringContext(project=project, base_dir=base_dir, judge=project.config.eval.judge,
                             judge_backend=judge_backend)  # fmt: skip
    results = []
    for version_id, items in groups.items():
        version = get_model_version_by_id(project, version_id) if version_id is not None else None
        result = OnlineEvaluation(
            ref.name, ref.alias, version.reference if version else None, span, len(items), 0
        )
        sample = _sample(items, settings, seed)
        with progress.task(
            f"scoring {len(sample)} logged answers of {result.version or ref.name}", total=None
        ):
            result.metrics = _score(sample, metrics, context)
        result.n_scored = len(sample)
        if len(sample) < settings.min_samples:
            result.note = f"{len(sample)} answers scored (fewer than monitor.evaluate.min_samples): no alerts"
        else:
            result.alerts = _alerts(project, ref.name, ref.alias, version_id, result.metrics, settings)
        if record:
            _store(project, result, version_id)
        results.append(result)
    return results


def _sample(items: list[TrafficItem], settings: OnlineEvalSettings, seed: int) -> list[TrafficItem]:
    count = min(settings.max_samples, max(1, round(len(items) * settings.sample_share)))
    return random.Random(seed).sample(items, min(count, len(items)))


def _as_item(item: TrafficItem, index: int) -> EvalItem:
    """A logged request as an evaluation item without a reference (judges read its messages)."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": item.prompt}]
    return EvalItem(
        id=item.request_id or str(index), messages=messages, reference=None, source=item.request_id
    )


def _score(
    items: list[TrafficItem], metrics: list[MetricOptions], context: ScoringContext
) -> dict[str, MetricSummary]:
    inputs = [
        ScoringInput(prediction=item.response or "", item=_as_item(item, i)) for i, item in enumerate(items)
    ]
    table = score_outputs(inputs, metrics, context)
    summaries = {}
    for name, column in table.columns.items():
        # Failures (a judge that never answered parseably) are left out, as the offline summary does.
        values = [score for score in table.scores(name) if score is not None and math.isfinite(score)]
        if values:
            spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            summaries[name] = MetricSummary(
                name, float(np.mean(values)), spread, len(values), column.higher_is_better, values
            )
    return summaries


def _segment(query: Any, name: str, alias: str | None, version_id: int | None) -> Any:
    table = OnlineEvaluationRecord
    return query.where(
        table.model_name == name,
        table.alias.is_(None) if alias is None else table.alias == alias,
        table.model_version_id.is_(None) if version_id is None else table.model_version_id == version_id,
    )


def _previous_values(
    project: Project, name: str, alias: str | None, version_id: int | None, windows: int
) -> tuple[dict[str, list[float]], int]:
    query = _segment(select(OnlineEvaluationRecord), name, alias, version_id)
    query = query.order_by(OnlineEvaluationRecord.id.desc()).limit(windows)
    pooled: dict[str, list[float]] = {}
    with project.store.session() as session:
        rows = list(session.scalars(query))
    for row in rows:
        for metric, summary in (row.scores or {}).items():
            pooled.setdefault(metric, []).extend(summary.get("values", []))
    return pooled, len(rows)


def _alerts(project: Project, name: str, alias: str | None, version_id: int | None,
            metrics: dict[str, MetricSummary], settings: OnlineEvalSettings) -> list[Alert]:  # fmt: skip
    from scipy.stats import ttest_ind

    baseline, windows = _previous_values(project, name, alias, version_id, settings.baseline_windows)
    alerts = []
    for metric, summary in metrics.items():
        before = baseline.get(metric, [])
        if summary.higher_is_better is None or len(before) < settings.min_samples:
            continue
        change = summary.mean - float(np.mean(before))
        worse = -change if summary.higher_is_better else change
        if worse < settings.alert_drop:
            continue
        p_value = float(ttest_ind(summary.values, before, equal_var=False).pvalue)
        if np.isnan(p_value) and np.std(summary.values) == 0 and np.std(before) == 0:
            p_value = 0.0  # two constant samples that differ: the drop is certain
        if p_value < settings.alpha:
            alerts.append(Alert(metric, float(np.mean(before)), summary.mean, change, p_value, windows))
    return alerts


def _history(project: Project, result: OnlineEvaluation, version_id: int | None) -> list[dict[str, Any]]:
    """Earlier windows' metric means of the same version, oldest first."""
    query = _segment(select(OnlineEvaluationRecord), result.model_name, result.alias, version_id)
    with project.store.session() as session:
        rows = list(session.scalars(query.order_by(OnlineEvaluationRecord.id)))
        return [{name: summary.get("mean") for name, summary in (row.scores or {}).items()} for row in rows]


def _store(project: Project, result: OnlineEvaluation, version_id: int | None) -> None:
    """Save the report, then the window's row with it, in one transaction."""
    from tuneloop.monitor.report import save_quality_report

    saved = save_quality_report(project, result, _history(project, result, version_id))
    with project.store.session() as session:
        record = OnlineEvaluationRecord(
            model_name=result.model_name, alias=result.alias, model_version_id=version_id,
            model_reference=result.version, window_start=result.window.start, window_end=result.window.end,
            n_logged=result.n_logged, n_scored=result.n_scored,
            scores={name: summary.to_dict() for name, summary in result.metrics.items()},
            alerts=[alert.to_dict() for alert in result.alerts],
            report_json_sha256=saved.json_sha256, report_html_sha256=saved.html_sha256,
        )  # fmt: skip
        session.add(record)
        session.flush()
        result.record_id = record.id
