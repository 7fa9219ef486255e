"""Run a suite: every model answers the same items with the same settings, then scores and paired tests.

``run_suite(project, "support", ["support:3"])`` plans the models (the candidate plus its foundation,
parent and production baselines), generates with the batched engine (cached on disk, so baselines are
generated once and reused by later evaluations), scores every model with the suite's metrics,
compares each candidate with each of its baselines item by item, and applies the gates. It returns
an :class:`EvalRun`; :mod:`tuneloop.evaluate.evaluations` stores it and :mod:`.report` renders it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuneloop.config.evaluate import EvalSection
from tuneloop.evaluate.generation import Generation, GenerationSettings, generate_for_model
from tuneloop.evaluate.items import EvalItem, build_conversation, draw_shots, load_items, system_prompt_for
from tuneloop.evaluate.metrics import (
    MetricOptions,
    ScoreTable,
    ScoringContext,
    ScoringInput,
    get_metric,
    score_outputs,
)
from tuneloop.evaluate.planning import EvaluationPlan, plan_evaluation
from tuneloop.evaluate.stats import Comparison, compare_paired, win_tie_loss_test
from tuneloop.evaluate.suites import LoadedSuite, load_suite
from tuneloop.progress import SILENT, Progress

if TYPE_CHECKING:
    from tuneloop.evaluate.gates import GateResult
    from tuneloop.evaluate.judges import JudgeBackend
    from tuneloop.project import Project


@dataclass
class ModelRun:
    """One model's answers and scores."""

    reference: str
    generations: list[Generation]
    table: ScoreTable
    seconds: float
    label: str = ""
    identity: str = ""

    @property
    def cached(self) -> int:
        return sum(g.cached for g in self.generations)


@dataclass
class MetricComparison:
    """A candidate against one of its baselines on one score column."""

    candidate: str
    role: str
    """The baseline's role: foundation, parent, production or baseline."""
    baseline: str
    metric: str
    group: str
    comparison: Comparison
    candidate_failures: int = 0
    baseline_failures: int = 0
    unreliable: bool = False
    """More items failed (judge failures) than ``eval.judge.max_failure_rate`` allows."""
    pairwise: bool = False
    per_item: list[float | None] | None = None
    """Pairwise metrics: per item 1 win, 0.5 tie, 0 loss, None failed."""
    candidate_scores: list[float] = field(default_factory=list, repr=False)
    baseline_scores: list[float] = field(default_factory=list, repr=False)
    """The paired scores the comparison used (gates re-test them, e.g. non-inferiority)."""


@dataclass
class EvalRun:
    """Everything one evaluation produced (not yet stored)."""

    suite: LoadedSuite
    items: list[EvalItem]
    plan: EvaluationPlan
    models: dict[str, ModelRun]
    comparisons: list[MetricComparison]
    alpha: float
    settings: GenerationSettings
    gates: list[GateResult] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    few_shot: int = 0

    @property
    def candidates(self) -> list[str]:
        return [plan.reference for plan in self.plan.candidates]

    def comparisons_of(self, candidate: str, role: str | None = None) -> list[MetricComparison]:
        return [c for c in self.comparisons if c.candidate == candidate and (role is None or c.role == role)]

    @property
    def gates_passed(self) -> bool | None:
        """None when no gate applied; else whether none failed."""
        decided = [g for g in self.gates if g.status != "skipped"]
        return None if not self.gates else all(g.status != "failed" for g in decided)


def scoring_context(
    project: Project | None, loaded: LoadedSuite, use_cache: bool, judge_backend: JudgeBackend | None = None
) -> ScoringContext:
    from tuneloop.evaluate.generation import project_cache

    return ScoringContext(
        project=project,
        base_dir=loaded.base_dir,
        judge=(project.config.eval if project is not None else EvalSection()).judge,
        judge_backend=judge_backend,
        disk_cache=project_cache(project) if (project is not None and use_cache) else None,
        use_cache=use_cache,
    )


def conversations_for(
    loaded: LoadedSuite,
    items: list[EvalItem],
    project: Project | None,
    few_shot: int = 0,
    shot_pool: list[EvalItem] | None = None,
) -> list[list[dict[str, Any]]]:
    """What each model is asked: system prompt, optional few-shot examples, then the item."""
    system = system_prompt_for(loaded.suite, project)
    seed = loaded.suite.few_shot.seed if loaded.suite.few_shot else 0
    return [
        build_conversation(item, system, draw_shots(shot_pool or [], item, few_shot, seed)) for item in items
    ]


def tools_of(items: list[EvalItem]) -> list[list[dict[str, Any]] | None] | None:
    """Each item's tool definitions, or None when no item offers tools (the common case)."""
    return [item.tools for item in items] if any(item.tools for item in items) else None


def score_model(
    loaded: LoadedSuite,
    items: list[EvalItem],
    generations: list[Generation],
    context: ScoringContext,
    sampled: dict[tuple[int, float], list[Generation]] | None = None,
) -> ScoreTable:
    """Score one model's answers; metrics that sample (consistency) see their sampled answers."""
    suite = loaded.suite
    inputs = [
        ScoringInput(g.text, item.reference, item, g) for item, g in zip(items, generations, strict=True)
    ]
    plain = [m for m in suite.metrics if get_metric(m.name).sampling is None]
    table = score_outputs(inputs, plain, context, category_field=suite.category_field)
    for spec in suite.metrics:
        request = _sampling(spec)
        if request is None:
            continue
        samples = (sampled or {}).get(request)
        if samples is None:
            continue
        sampled_inputs = [
            ScoringInput(g.text, item.reference, item, s)
            for item, g, s in zip(items, generations, samples, strict=True)
        ]
        extra = score_outputs(sampled_inputs, [spec], context, category_field=suite.category_field)
        table.columns.update(extra.columns)
        table.values.update(extra.values)
    return table


def _sampling(spec: MetricOptions) -> tuple[int, float] | None:
    definition = get_metric(spec.name)
    request = definition.sampling(spec) if definition.sampling else None
    return (request.num_samples, request.temperature) if request else None


def run_model(
    project: Project | None,
    reference: str,
    loaded: LoadedSuite,
    items: list[EvalItem],
    conversations: list[list[dict[str, Any]]],
    context: ScoringContext,
    *,
    use_cache: bool,
    progress: Progress,
) -> ModelRun:
    """Generate (cached) and score one model."""
    from tuneloop.evaluate.generation import describe_model

    settings = loaded.suite.generation
    started = time.perf_counter()
    tools = tools_of(items)
    generations = generate_for_model(
        project, reference, conversations, settings, use_cache=use_cache, progress=progress, tools=tools
    )
    sampled: dict[tuple[int, float], list[Generation]] = {}
    for spec in loaded.suite.metrics:
        request = _sampling(spec)
        if request is not None and request not in sampled:
            sampling_settings = settings.model_copy(
                update={"num_samples": request[0], "temperature": request[1], "top_p": 0.95}
            )
            sampled[request] = generate_for_model(
                project,
                reference,
                conversations,
                sampling_settings,
                use_cache=use_cache,
                progress=progress,
                tools=tools,
            )
    table = score_model(loaded, items, generations, context, sampled)
    label, identity = describe_model(project, reference)
    return ModelRun(
        reference, generations, table, time.perf_counter() - started, label=label, identity=identity
    )


def compare_models(
    run_models: dict[str, ModelRun],
    plan: EvaluationPlan,
    loaded: LoadedSuite,
    items: list[EvalItem],
    context: ScoringContext,
    *,
    alpha: float,
    n_resamples: int,
    max_failure_rate: float,
) -> list[MetricComparison]:
    """Every candidate against each of its baselines, on every score column and pairwise metric."""
    comparisons = []
    for candidate_plan in plan.candidates:
        candidate = run_models[candidate_plan.reference]
        for role, baseline_ref in candidate_plan.baselines.items():
            baseline = run_models[baseline_ref]
            for column, info in candidate.table.columns.items():
                comparisons.append(
                    _compare_column(
                        candidate,
                        baseline,
                        role,
                        column,
                        info.group,
                        info.higher_is_better,
                        alpha,
                        n_resamples,
                        max_failure_rate,
                    )
                )
            for spec in loaded.suite.metrics:
                definition = get_metric(spec.name)
                if definition.compare is not None:
                    comparisons.append(
                        _compare_pairwise(
                            candidate, baseline, role, spec, items, context, alpha, max_failure_rate
                        )
                    )
    return comparisons


def _compare_column(
    candidate: ModelRun,
    baseline: ModelRun,
    role: str,
    column: str,
    group: str,
    higher_is_better: bool | None,
    alpha: float,
    n_resamples: int,
    max_failure_rate: float,
) -> MetricComparison:
    c_scores, b_scores = candidate.table.scores(column), baseline.table.scores(column)
    pairs = [(c, b) for c, b in zip(c_scores, b_scores, strict=True) if c is not None and b is not None]
    binary = candidate.table.is_binary(column) and baseline.table.is_binary(column)
    comparison = compare_paired(
        [c for c, _ in pairs],
        [b for _, b in pairs],
        "binary" if binary else "continuous",
        alpha,
        higher_is_better=higher_is_better,
        n_resamples=n_resamples,
    )
    c_fail, b_fail = candidate.table.failures(column), baseline.table.failures(column)
    applicable = max(candidate.table.applicable(column), 1)
    return MetricComparison(
        candidate=candidate.reference,
        role=role,
        baseline=baseline.reference,
        metric=column,
        group=group,
        comparison=comparison,
        candidate_failures=c_fail,
        baseline_failures=b_fail,
        unreliable=max(c_fail, b_fail) / applicable > max_failure_rate,
        candidate_scores=[c for c, _ in pairs],
        baseline_scores=[b for _, b in pairs],
    )


def _compare_pairwise(
    candidate: ModelRun,
    baseline: ModelRun,
    role: str,
    spec: MetricOptions,
    items: list[EvalItem],
    context: ScoringContext,
    alpha: float,
    max_failure_rate: float,
) -> MetricComparison:
    definition = get_metric(spec.name)
    assert definition.compare is not None
    c_inputs = [
        ScoringInput(g.text, i.reference, i, g) for i, g in zip(items, candidate.generations, strict=True)
    ]
    b_inputs = [
        ScoringInput(g.text, i.reference, i, g) for i, g in zip(items, baseline.generations, strict=True)
    ]
    values = definition.compare(c_inputs, b_inputs, spec, context)
    scores = [v.score for v in values]
    wins, ties, losses = (sum(s == x for s in scores) for x in (1.0, 0.5, 0.0))
    failures = sum(s is None for s in scores)
    return MetricComparison(
        candidate=candidate.reference,
        role=role,
        baseline=baseline.reference,
        metric=spec.output or definition.name,
        group=spec.group or definition.group,
        comparison=win_tie_loss_test(wins, ties, losses, alpha),
        candidate_failures=failures,
        unreliable=failures / max(len(values), 1) > max_failure_rate,
        pairwise=True,
        per_item=scores,
    )


def run_suite(
    project: Project | None,
    suite: str | LoadedSuite,
    candidates: list[str],
    *,
    baselines: list[str] | None = None,
    automatic_baselines: bool = True,
    use_cache: bool | None = None,
    limit: int | None = None,
    progress: Progress = SILENT,
    judge_backend: JudgeBackend | None = None,
    apply_gates: bool = True,
) -> EvalRun:
    """Evaluate ``candidates`` (and their baselines) on a suite; see the module docstring."""
    from tuneloop.evaluate.gates import evaluate_gates, gate_baseline_references, gates_for

    loaded = suite if isinstance(suite, LoadedSuite) else load_suite(suite, project)
    items = load_items(loaded, project)
    items = items[:limit] if limit else items
    eval_config = project.config.eval if project is not None else EvalSection()
    use_cache = eval_config.cache if use_cache is None else use_cache
    alpha = eval_config.significance
    resamples = eval_config.bootstrap_resamples
    max_failure_rate = eval_config.judge.max_failure_rate
    rules = gates_for(loaded, project) if apply_gates else []
    explicit = list(baselines or [])
    explicit += [b for b in gate_baseline_references(rules) if b not in explicit]
    plan = plan_evaluation(project, candidates, explicit_baselines=explicit, automatic=automatic_baselines)
    conversations = conversations_for(loaded, items, project)
    context = scoring_context(project, loaded, use_cache, judge_backend)
    models = {
        reference: run_model(
            project, reference, loaded, items, conversations, context, use_cache=use_cache, progress=progress
        )
        for reference in plan.models()
    }
    comparisons = compare_models(
        models,
        plan,
        loaded,
        items,
        context,
        alpha=alpha,
        n_resamples=resamples,
        max_failure_rate=max_failure_rate,
    )
    run = EvalRun(loaded, items, plan, models, comparisons, alpha, loaded.suite.generation)
    if apply_gates:
        run.gates = evaluate_gates(run, rules, project)
    return run
