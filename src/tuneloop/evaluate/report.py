"""An evaluation's report: one JSON document (machines, ``eval show --json``) and one HTML page (people).

The HTML holds the summary table (means, deltas with confidence intervals, p-values, win/tie/loss,
verdicts), the gates, the per-category breakdown and the per-item diff — baseline and candidate answers
side by side, filterable to regressions.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from tuneloop.reports import Report, bar_chart, heatmap

if TYPE_CHECKING:
    from tuneloop.evaluate.runner import EvalRun

PREVIEW = 600


def _last_user(messages: list[dict[str, Any]]) -> str:
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return str(users[-1] if users else (messages[-1].get("content", "") if messages else ""))


def category_breakdown(run: EvalRun) -> dict[str, dict[str, dict[str, dict[str, float | int | None]]]]:
    """model -> column -> category -> {mean, n}."""
    field = run.suite.suite.category_field
    result: dict[str, dict[str, dict[str, dict[str, float | int | None]]]] = {}
    for reference, model in run.models.items():
        per_column: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for column in model.table.columns:
            groups: dict[str, list[float]] = defaultdict(list)
            for item, score in zip(run.items, model.table.scores(column), strict=True):
                if score is not None:
                    groups[item.category(field)].append(score)
            per_column[column] = {
                cat: {"mean": sum(v) / len(v), "n": len(v)} for cat, v in sorted(groups.items())
            }
        result[reference] = per_column
    return result


def roles_of(run: EvalRun) -> dict[str, list[str]]:
    roles: dict[str, list[str]] = defaultdict(list)
    for plan in run.plan.candidates:
        roles[plan.reference].append("candidate")
        for role, reference in plan.baselines.items():
            if role not in roles[reference]:
                roles[reference].append(role)
    return dict(roles)


def report_data(run: EvalRun) -> dict[str, Any]:
    """The JSON report."""
    suite = run.suite.suite
    field = suite.category_field
    roles = roles_of(run)
    return {
        "kind": "eval",
        "created_at": run.created_at.isoformat(),
        "suite": {
            "name": suite.name,
            "reference": run.suite.reference,
            "digest": run.suite.digest,
            "description": suite.description,
            "primary_metric": suite.primary,
            "path": str(run.suite.path),
        },
        "alpha": run.alpha,
        "few_shot": run.few_shot,
        "generation": run.settings.model_dump(mode="json"),
        "items": [
            {
                "id": i.id,
                "category": i.category(field),
                "source": i.source,
                "prompt": _last_user(i.messages),
                "reference": i.reference,
            }
            for i in run.items
        ],
        "candidates": [
            {
                "reference": p.reference,
                "model_version_id": p.model_version_id,
                "baselines": p.baselines,
                "trained_from": p.trained_from,
            }
            for p in run.plan.candidates
        ],
        "models": {
            reference: {
                "label": model.label,
                "identity": model.identity,
                "roles": roles.get(reference, []),
                "seconds": model.seconds,
                "cached_answers": model.cached,
                "summary": model.table.summary(),
                "outputs": [g.text for g in model.generations],
                "finish_reasons": [g.finish_reason for g in model.generations],
                "scores": {
                    column: [v.to_dict() if v is not None else None for v in values]
                    for column, values in model.table.values.items()
                },
            }
            for reference, model in run.models.items()
        },
        "comparisons": [
            {
                "candidate": c.candidate,
                "role": c.role,
                "baseline": c.baseline,
                "metric": c.metric,
                "group": c.group,
                "pairwise": c.pairwise,
                "unreliable": c.unreliable,
                "candidate_failures": c.candidate_failures,
                "baseline_failures": c.baseline_failures,
                **c.comparison.to_dict(),
                **({"per_item": c.per_item} if c.per_item is not None else {}),
            }
            for c in run.comparisons
        ],
        "categories": category_breakdown(run),
        "gates": [g.to_dict() for g in run.gates],
        "passed": run.gates_passed,
    }


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def summary_rows(data: dict[str, Any], candidate: str) -> list[list[object]]:
    """Rows of the comparison table of one candidate (also printed by the CLI)."""
    rows: list[list[object]] = []
    summary = data["models"][candidate]["summary"]
    comparisons = [c for c in data["comparisons"] if c["candidate"] == candidate]
    for column, info in summary.items():
        matched = [c for c in comparisons if c["metric"] == column]
        if not matched:
            rows.append([column, _fmt(info["mean"]), "", "", "", "", "", "", str(info["failures"] or "")])
        for c in matched:
            rows.append(_comparison_row(column, info["mean"], c))
    for c in comparisons:
        if c["pairwise"]:
            rows.append(_comparison_row(c["metric"], c["candidate_mean"], c))
    return rows


def _comparison_row(column: str, mean: float | None, c: dict[str, Any]) -> list[object]:
    verdict = "unreliable" if c["unreliable"] else c["verdict"]
    failures = c["candidate_failures"] + c["baseline_failures"]
    baseline_mean = c["baseline_mean"] if not c["pairwise"] else 0.5
    return [
        column,
        _fmt(mean),
        f"{c['role']}: {_fmt(baseline_mean)}",
        f"{c['delta']:+.3f}",
        f"[{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}]",
        f"{c['p_value']:.3g}",
        f"{c['wins']}/{c['ties']}/{c['losses']}",
        verdict,
        str(failures or ""),
    ]


SUMMARY_HEADERS = ["metric", "candidate", "baseline", "Δ", "CI", "p", "W/T/L", "verdict", "failures"]


def render_html(data: dict[str, Any]) -> str:
    """The HTML report of an evaluation's JSON data."""
    suite = data["suite"]
    candidates = [c["reference"] for c in data["candidates"]]
    report = Report(
        f"Evaluation · {suite['name']} · {', '.join(candidates)}",
        subtitle=f"{len(data['items'])} items · α = {data['alpha']} · suite {suite['digest']}",
    )
    passed = data.get("passed")
    report.key_values(
        [
            ("suite", f"{suite['name']} ({suite['reference']})"),
            ("primary metric", suite["primary_metric"]),
            ("models", ", ".join(f"{ref} [{', '.join(m['roles'])}]" for ref, m in data["models"].items())),
            (
                "generation",
                ", ".join(f"{k}={v}" for k, v in data["generation"].items() if v not in (None, [], ())),
            ),
            ("gates", "none" if passed is None else ("passed" if passed else "failed")),
        ]
    )
    if data["gates"]:
        report.heading("Gates")
        report.table(
            ["status", "candidate", "rule", "metric", "baseline", "why"],
            [
                [g["status"], g["candidate"], g["rule"], g["metric"] or "", g["baseline"] or "", g["reason"]]
                for g in data["gates"]
            ],
        )
    for candidate in candidates:
        report.heading(f"Summary: {candidate}")
        report.paragraph(
            "Δ = candidate − baseline; CI at level 1 − α (paired bootstrap); p from McNemar's exact "
            "test (binary metrics), a sign-flip permutation test (continuous) or a sign test "
            "(pairwise judge); W/T/L counts items.",
            css="muted",
        )
        report.table(SUMMARY_HEADERS, summary_rows(data, candidate))
    primary = suite["primary_metric"]
    means = [(ref, m["summary"].get(primary, {}).get("mean")) for ref, m in data["models"].items()]
    report.raw(
        bar_chart(
            [r for r, v in means if v is not None],
            [v for _, v in means if v is not None],
            title=f"{primary} by model",
        )
    )
    _categories(report, data, primary)
    for candidate_info in data["candidates"]:
        _item_diff(report, data, candidate_info)
    return report.render()


def _categories(report: Report, data: dict[str, Any], primary: str) -> None:
    categories = sorted({i["category"] for i in data["items"]})
    if len(categories) < 2:
        return
    report.heading(f"By category: {primary}")
    models = list(data["models"])
    cells = [
        [data["categories"][m].get(primary, {}).get(cat, {}).get("mean") for m in models]
        for cat in categories
    ]
    counts = [data["categories"][models[0]].get(primary, {}).get(cat, {}).get("n", 0) for cat in categories]
    report.table(
        ["category", "n", *models],
        [[cat, n, *[_fmt(v) for v in row]] for cat, n, row in zip(categories, counts, cells, strict=True)],
    )
    report.raw(heatmap(categories, models, cells, title=f"{primary} per category", value_format="{:.2f}"))


def _item_diff(report: Report, data: dict[str, Any], candidate_info: dict[str, Any]) -> None:
    candidate = candidate_info["reference"]
    baselines = candidate_info["baselines"]
    role = next((r for r in ("production", "parent", "foundation", *baselines) if r in baselines), None)
    if role is None:
        return
    baseline = baselines[role]
    primary = data["suite"]["primary_metric"]
    cand, base = data["models"][candidate], data["models"][baseline]
    direction = cand["summary"].get(primary, {}).get("higher_is_better")
    sign = -1.0 if direction is False else 1.0
    rows, classes = [], []
    for index, item in enumerate(data["items"]):
        c_value = (cand["scores"].get(primary) or [None] * (index + 1))[index]
        b_value = (base["scores"].get(primary) or [None] * (index + 1))[index]
        c_score = c_value["score"] if c_value else None
        b_score = b_value["score"] if b_value else None
        if c_score is None or b_score is None:
            css = "unscored"
        elif (c_score - b_score) * sign < -1e-12:
            css = "regression"
        elif (c_score - b_score) * sign > 1e-12:
            css = "improvement"
        else:
            css = "same"
        classes.append(css)
        rows.append(
            [
                item["id"],
                item["category"],
                item["prompt"][:PREVIEW],
                (item["reference"] or "")[:PREVIEW],
                base["outputs"][index][:PREVIEW],
                cand["outputs"][index][:PREVIEW],
                _fmt(b_score, 2),
                _fmt(c_score, 2),
                css,
            ]
        )
    counts = {k: classes.count(k) for k in ("regression", "improvement", "same", "unscored")}
    report.heading(f"Per item: {candidate} vs {role} ({baseline}) on {primary}")
    report.paragraph(", ".join(f"{v} {k}" for k, v in counts.items() if v), css="muted")
    table_id = f"items-{abs(hash(candidate)) % 10**8}"
    report.table(
        [
            "item",
            "category",
            "prompt",
            "reference",
            f"{role} answer",
            "candidate answer",
            role,
            "candidate",
            "change",
        ],
        rows,
        row_classes=classes,
        table_id=table_id,
        filters=[("regressions", "regression"), ("improvements", "improvement"), ("unchanged", "same")],
    )
