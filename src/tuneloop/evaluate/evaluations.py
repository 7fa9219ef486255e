"""Store evaluations: the report artifacts, a result attached to each candidate, per-item scores.

Each candidate of a run gets one ``evaluations`` row (kind ``eval``, ``gate``, ``eval-score`` or
``fit-check``) pointing at the shared JSON and HTML report, with a compact summary; promotion reads
the ``gate`` rows. Per-item scores of every model go to ``eval_item_scores`` for ``eval compare``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tuneloop.errors import NotFound
from tuneloop.evaluate.report import render_html, report_data
from tuneloop.evaluate.stats import Comparison, compare_paired
from tuneloop.registry import EvaluationInfo, attach_result, get_result, list_results
from tuneloop.reports import save_report
from tuneloop.store import EvalItemScoreRecord, atomic_write_text

if TYPE_CHECKING:
    from tuneloop.evaluate.runner import EvalRun
    from tuneloop.project import Project
    from tuneloop.reports.store import SavedReport

EVAL_KINDS = ("eval", "gate", "eval-score", "fit-check")


@dataclass
class RecordedRun:
    """What :func:`record_run` stored."""

    data: dict[str, Any]
    report: SavedReport
    evaluations: list[EvaluationInfo]
    html_file: Path
    """A readable copy of the HTML report under ``.tuneloop/reports/`` (open it in a browser)."""


def _slug(text: str) -> str:
    # No dots: the name gets .json/.html suffixes.
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:80] or "model"


def compact_summary(data: dict[str, Any], candidate: str) -> dict[str, Any]:
    """What ``eval list`` and promotion need without opening the report."""
    model = data["models"][candidate]
    plan = next(c for c in data["candidates"] if c["reference"] == candidate)
    gates = [g for g in data["gates"] if g["candidate"] == candidate]
    return {
        "suite_digest": data["suite"]["digest"],
        "items": len(data["items"]),
        "primary_metric": data["suite"]["primary_metric"],
        "metrics": {name: info["mean"] for name, info in model["summary"].items()},
        "failures": {name: info["failures"] for name, info in model["summary"].items() if info["failures"]},
        "baselines": {
            role: {
                "reference": ref,
                "metrics": {n: i["mean"] for n, i in data["models"][ref]["summary"].items()},
            }
            for role, ref in plan["baselines"].items()
        },
        "comparisons": [
            {
                k: c[k]
                for k in (
                    "role",
                    "baseline",
                    "metric",
                    "delta",
                    "ci",
                    "p_value",
                    "verdict",
                    "wins",
                    "ties",
                    "losses",
                    "n",
                    "unreliable",
                )
            }
            for c in data["comparisons"]
            if c["candidate"] == candidate
        ],
        "gates": {
            status: sum(g["status"] == status for g in gates) for status in ("passed", "failed", "skipped")
        },
        "few_shot": data.get("few_shot", 0),
    }


def record_run(
    project: Project, run: EvalRun, *, kind: str = "eval", copy_to: Path | None = None
) -> RecordedRun:
    """Save the report and attach one result per candidate (with its per-item scores)."""
    data = report_data(run)
    data["kind"] = kind
    return record_report(project, data, kind=kind, copy_to=copy_to)


def record_report(
    project: Project, data: dict[str, Any], *, kind: str, copy_to: Path | None = None
) -> RecordedRun:
    """Store an already built report (``eval score`` builds its own) and attach its results."""
    candidates = [c["reference"] for c in data["candidates"]]
    name = f"{kind}-{_slug(data['suite']['name'])}-{_slug('+'.join(candidates))}"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    readable = project.state_dir / "reports" / f"{name}-{stamp}"
    saved = save_report(project, "eval", data, render_html(data), name=name, copy_to=readable)
    if copy_to is not None:
        atomic_write_text(
            copy_to.with_suffix(".json"), readable.with_suffix(".json").read_text(encoding="utf-8")
        )
        atomic_write_text(
            copy_to.with_suffix(".html"), readable.with_suffix(".html").read_text(encoding="utf-8")
        )
    evaluations = []
    for plan in data["candidates"]:
        candidate = plan["reference"]
        gates = [g for g in data["gates"] if g["candidate"] == candidate and g["status"] != "skipped"]
        passed = None if not gates else all(g["status"] == "passed" for g in gates)
        info = attach_result(
            project,
            kind=kind,
            model_reference=candidate,
            model_version_id=plan.get("model_version_id"),
            suite=data["suite"]["name"],
            summary=compact_summary(data, candidate),
            passed=passed,
            report_json_sha256=saved.json_sha256,
            report_html_sha256=saved.html_sha256,
        )
        _store_item_scores(project, info.id, data, [candidate, *plan["baselines"].values()])
        evaluations.append(info)
    return RecordedRun(data, saved, evaluations, readable.with_suffix(".html"))


def _store_item_scores(
    project: Project, evaluation_id: int, data: dict[str, Any], references: list[str]
) -> None:
    items = data["items"]
    with project.store.session() as session:
        for reference in dict.fromkeys(references):
            model = data["models"][reference]
            role = model["roles"][0] if model["roles"] else "baseline"
            for metric, values in model["scores"].items():
                for position, (item, value) in enumerate(zip(items, values, strict=True)):
                    if value is None:
                        continue
                    session.add(
                        EvalItemScoreRecord(
                            evaluation_id=evaluation_id,
                            model_reference=reference,
                            role=role,
                            model_identity=model.get("identity") or "",
                            item_id=item["id"],
                            category=item["category"],
                            metric=metric,
                            score=value["score"],
                            error=value.get("error"),
                            position=position,
                        )
                    )


def list_evaluations(
    project: Project, *, model: str | None = None, suite: str | None = None, kind: str | None = None
) -> list[EvaluationInfo]:
    """Stored evaluation results, oldest first."""
    results = [r for r in list_results(project, kind=kind) if r.kind in EVAL_KINDS]
    if model is not None:
        results = [r for r in results if r.model_reference == model]
    if suite is not None:
        results = [r for r in results if r.suite == suite]
    return results


def get_evaluation(project: Project, evaluation_id: int) -> EvaluationInfo:
    info = get_result(project, evaluation_id)
    if info is None or info.kind not in EVAL_KINDS:
        raise NotFound(
            "unknown_evaluation", f"no evaluation with id {evaluation_id}; see `tuneloop eval list`"
        )
    return info


def readable_report(project: Project, info: EvaluationInfo) -> Path:
    """The evaluation's HTML report as ``.tuneloop/reports/evaluation-<id>.html`` (written once)."""
    target = project.state_dir / "reports" / f"evaluation-{info.id}.html"
    if not target.is_file():
        if not info.report_html_sha256:
            raise NotFound("report_missing", f"evaluation {info.id} has no stored report")
        atomic_write_text(target, project.artifacts.get_bytes(info.report_html_sha256).decode("utf-8"))
    return target


def load_report(project: Project, info: EvaluationInfo) -> dict[str, Any]:
    if not info.report_json_sha256:
        raise NotFound("report_missing", f"evaluation {info.id} has no stored report")
    return json.loads(project.artifacts.get_bytes(info.report_json_sha256))


@dataclass(frozen=True)
class EvaluationDiff:
    """``eval compare A B``: B's candidate against A's, paired on the items both evaluated."""

    metric: str
    comparison: Comparison
    only_in_first: int
    only_in_second: int


def _candidate_scores(project: Project, info: EvaluationInfo) -> dict[str, dict[str, float]]:
    with project.store.session() as session:
        rows = session.scalars(
            select(EvalItemScoreRecord).where(
                EvalItemScoreRecord.evaluation_id == info.id,
                EvalItemScoreRecord.model_reference == info.model_reference,
            )
        )
        scores: dict[str, dict[str, float]] = {}
        for row in rows:
            if row.score is not None:
                scores.setdefault(row.metric, {})[row.item_id] = row.score
    return scores


def compare_evaluations(
    project: Project, first_id: int, second_id: int, alpha: float | None = None
) -> list[EvaluationDiff]:
    """Per metric, the second evaluation's model against the first's on their common items."""
    first, second = get_evaluation(project, first_id), get_evaluation(project, second_id)
    a, b = _candidate_scores(project, first), _candidate_scores(project, second)
    directions = load_report(project, second)["models"][second.model_reference]["summary"]
    level = alpha or project.config.eval.significance
    diffs = []
    for metric in [m for m in b if m in a]:
        common = sorted(set(a[metric]) & set(b[metric]))
        if not common:
            continue
        info = directions.get(metric, {})
        binary = all(a[metric][i] in (0.0, 1.0) and b[metric][i] in (0.0, 1.0) for i in common) and info.get(
            "binary", True
        )
        comparison = compare_paired(
            [b[metric][i] for i in common],
            [a[metric][i] for i in common],
            "binary" if binary else "continuous",
            level,
            higher_is_better=info.get("higher_is_better", True),
            n_resamples=project.config.eval.bootstrap_resamples,
        )
        diffs.append(
            EvaluationDiff(
                metric, comparison, len(set(a[metric]) - set(common)), len(set(b[metric]) - set(common))
            )
        )
    return diffs
