"""``tuneloop eval score``: score answers produced elsewhere, without generating.

The outputs file is JSONL, one answer per line::

    {"prompt": "...", "completion": "...", "reference": "...", "category": "billing", "latency_s": 0.8}
    {"messages": [{"role": "user", "content": "..."}], "completion": "..."}

for answers captured from an outgoing model, from production logs or from another system. A record
without a ``reference`` takes the reference of the suite item with the same prompt. With
``--baseline-outputs`` a second file is paired with the first by prompt and compared with the same
statistics as ``eval run``. The report has the same format as ``eval run``'s.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.config.evaluate import EvalSection
from tuneloop.config.loader import unfit_value
from tuneloop.data.readers import json_value
from tuneloop.errors import ConfigError, InvalidInput, Location, TuneloopError
from tuneloop.evaluate.generation import Generation
from tuneloop.evaluate.items import EvalItem, item_id, load_items
from tuneloop.evaluate.metrics import MetricOptions, ScoringContext, ScoringInput, score_outputs
from tuneloop.evaluate.planning import CandidatePlan, EvaluationPlan
from tuneloop.evaluate.runner import EvalRun, ModelRun, compare_models, scoring_context
from tuneloop.evaluate.suites import ItemsSource, LoadedSuite, Suite

if TYPE_CHECKING:
    from tuneloop.evaluate.judges import JudgeBackend
    from tuneloop.project import Project


def _problem(path: Path, line: int, field: str | None, message: str) -> TuneloopError:
    return InvalidInput("invalid_output_record", message, Location(str(path), line, field))


def read_outputs(path: Path) -> list[tuple[EvalItem, Generation]]:
    """Parse an outputs file; every bad line is reported with its number, nothing is skipped silently."""
    if not path.is_file():
        raise InvalidInput("file_not_found", f"no such file: {path}", Location(str(path)))
    records, problems = [], []
    # split on "\n" only: str.splitlines also cuts at U+2028, U+0085 ..., which JSON strings may hold raw
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json_value(line)
        except json.JSONDecodeError as exc:
            problems.append(_problem(path, number, None, f"invalid JSON: {exc.msg}"))
            continue
        if (reason := unfit_value(row)) is not None:
            problems.append(_problem(path, number, None, reason))
            continue
        parsed = _record(path, number, row, problems)
        if parsed is not None:
            records.append(parsed)
    if problems:
        raise ConfigError(problems)
    if not records:
        raise InvalidInput("no_items", "the outputs file holds no records", Location(str(path)))
    return records


def _record(
    path: Path, number: int, row: Any, problems: list[TuneloopError]
) -> tuple[EvalItem, Generation] | None:
    if not isinstance(row, dict):
        problems.append(_problem(path, number, None, "each line must be a JSON object"))
        return None
    completion = row.get("completion", row.get("output"))
    if not isinstance(completion, str):
        problems.append(_problem(path, number, "completion", "missing or not text: the answer to score"))
        return None
    messages = row.get("messages")
    if messages is None and isinstance(row.get("prompt"), str):
        messages = [{"role": "user", "content": row["prompt"]}]
    if not (
        isinstance(messages, list)
        and messages
        and all(isinstance(m, dict) and "content" in m for m in messages)
    ):
        problems.append(
            _problem(path, number, "prompt", "give `prompt` (text) or `messages` (a list of role/content)")
        )
        return None
    reference = row.get("reference")
    if reference is not None and not isinstance(reference, str):
        reference = json.dumps(reference, ensure_ascii=False)
    given_tags = row.get("tags") or {}
    if not isinstance(given_tags, dict):
        problems.append(_problem(path, number, "tags", "tags must be an object of labels"))
        return None
    tags = {k: str(v) for k, v in given_tags.items()}
    if "category" in row:
        tags.setdefault("category", str(row["category"]))
    plain = [{"role": str(m.get("role", "user")), "content": str(m["content"])} for m in messages]
    identity = str(row.get("id") or item_id(_without_system(plain), None))
    latency = row.get("latency_s")
    generation = Generation(
        completion,
        0,
        len(completion.split()),
        _seconds(latency),
        str(row.get("finish_reason", "stop")),
    )
    return EvalItem(identity, plain, reference, tags, f"{path}:{number}"), generation


def _seconds(value: Any) -> float:
    """A latency in seconds; NaN when it is missing or no float can hold it (a 400-digit integer)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.nan


def _without_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("role") != "system"]


def _fill_references(
    records: list[tuple[EvalItem, Generation]], suite_items: list[EvalItem]
) -> list[tuple[EvalItem, Generation]]:
    by_prompt = {json.dumps(_without_system(i.messages), sort_keys=True): i for i in suite_items}
    filled = []
    for item, generation in records:
        match = by_prompt.get(json.dumps(_without_system(item.messages), sort_keys=True))
        if match is not None:
            item = EvalItem(
                match.id,
                item.messages,
                item.reference if item.reference is not None else match.reference,
                item.tags or match.tags,
                item.source,
                match.checks,
            )
        filled.append((item, generation))
    return filled


def adhoc_suite(metric: MetricOptions, outputs: Path) -> LoadedSuite:
    """A one-metric suite for ``eval score --metric``."""
    suite = Suite(
        name=f"score-{metric.output or metric.name}",
        items=ItemsSource(file=str(outputs)),
        metrics=[metric],
        system_prompt=None,
    )
    return LoadedSuite(suite, outputs.resolve(), outputs.resolve().parent, f"metric:{metric.name}")


def _model_run(
    reference: str,
    items: list[EvalItem],
    generations: list[Generation],
    loaded: LoadedSuite,
    context: ScoringContext,
) -> ModelRun:
    inputs = [
        ScoringInput(g.text, i.reference, i, None if math.isnan(g.latency_s) else g)
        for i, g in zip(items, generations, strict=True)
    ]
    table = score_outputs(
        inputs, list(loaded.suite.metrics), context, category_field=loaded.suite.category_field
    )
    return ModelRun(reference, generations, table, 0.0, label=reference, identity=f"file:{reference}")


def score_files(
    project: Project | None,
    loaded: LoadedSuite,
    outputs: Path,
    *,
    baseline_outputs: Path | None = None,
    use_suite_items: bool = True,
    judge_backend: JudgeBackend | None = None,
) -> EvalRun:
    """Score ``outputs`` (and compare with ``baseline_outputs``) with the suite's metrics."""
    from tuneloop.evaluate.gates import evaluate_gates, gates_for

    records = read_outputs(outputs)
    suite_items: list[EvalItem] = []
    if use_suite_items:
        try:
            suite_items = load_items(loaded, project)
        except TuneloopError:
            suite_items = []  # the suite's items are only used to fill in missing references
    records = _fill_references(records, suite_items)
    candidate_ref = f"file:{outputs}"
    plan = CandidatePlan(candidate_ref)
    items = [item for item, _ in records]
    generations = {candidate_ref: [g for _, g in records]}
    if baseline_outputs is not None:
        baseline_ref = f"file:{baseline_outputs}"
        by_id = {item.id: g for item, g in _fill_references(read_outputs(baseline_outputs), suite_items)}
        missing = [item.source for item in items if item.id not in by_id]
        if missing:
            raise InvalidInput(
                "unpaired_outputs",
                f"{len(missing)} answers have no baseline answer to the same prompt (first: {missing[0]})",
                Location(str(baseline_outputs)),
            )
        generations[baseline_ref] = [by_id[item.id] for item in items]
        plan.baselines["baseline"] = baseline_ref
    config = project.config.eval if project is not None else EvalSection()
    use_cache = config.cache
    context = scoring_context(project, loaded, use_cache, judge_backend)
    models = {ref: _model_run(ref, items, gens, loaded, context) for ref, gens in generations.items()}
    eval_plan = EvaluationPlan([plan])
    comparisons = compare_models(
        models,
        eval_plan,
        loaded,
        items,
        context,
        alpha=config.significance,
        n_resamples=config.bootstrap_resamples,
        max_failure_rate=config.judge.max_failure_rate,
    )
    run = EvalRun(
        loaded,
        items,
        eval_plan,
        models,
        comparisons,
        config.significance,
        loaded.suite.generation,
    )
    run.gates = evaluate_gates(run, gates_for(loaded, project), project)
    return run
