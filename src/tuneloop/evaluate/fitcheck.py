"""``tuneloop eval baseline``: does the foundation model already do the task with a good prompt?

Before any training, run the project's base model on the suite with the project's system prompt,
zero-shot and with k worked examples (``few_shot``), and compare the best primary-metric score with the
target (``fit_target``): at or above it, the task already works and prompt engineering may be enough
(fine-tuning is the wrong tool); below it, the report states the gap fine-tuning must close. k-shot
variants are compared with zero-shot item by item, so "few-shot helps" is a tested claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuneloop.config import ProjectConfig
from tuneloop.errors import InvalidInput
from tuneloop.evaluate.items import EvalItem, load_items
from tuneloop.evaluate.planning import CandidatePlan, EvaluationPlan
from tuneloop.evaluate.runner import (
    EvalRun,
    ModelRun,
    compare_models,
    conversations_for,
    score_model,
    scoring_context,
    tools_of,
)
from tuneloop.evaluate.stats import bootstrap_ci
from tuneloop.evaluate.suites import LoadedSuite
from tuneloop.progress import SILENT, Progress

if TYPE_CHECKING:
    from tuneloop.project import Project


@dataclass
class FitCheck:
    """The fit check's outcome."""

    run: EvalRun
    model: str
    primary_metric: str
    target: float
    variants: dict[str, dict[str, Any]]
    """variant label -> {k, mean, ci}."""
    best: str
    already_works: bool

    @property
    def gap(self) -> float:
        return max(0.0, self.target - float(self.variants[self.best]["mean"] or 0.0))

    @property
    def verdict(self) -> str:
        best = self.variants[self.best]
        if self.already_works:
            return (
                f"task already works: {self.primary_metric} = {best['mean']:.3f} with {self.best} prompting "
                f"(target {self.target:g}); prompt engineering may be enough and fine-tuning may be the wrong tool"
            )
        return (
            f"gap of {self.gap:.3f} to close: best {self.primary_metric} = {best['mean']:.3f} with {self.best} "
            f"prompting, target {self.target:g}; fine-tuning must close it"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "primary_metric": self.primary_metric,
            "target": self.target,
            "variants": self.variants,
            "best": self.best,
            "already_works": self.already_works,
            "gap": self.gap,
            "verdict": self.verdict,
        }


def _shot_pool(loaded: LoadedSuite, project: Project | None, exclude: set[str]) -> list[EvalItem]:
    from tuneloop.evaluate.items import _from_files

    few_shot = loaded.suite.few_shot
    if few_shot is not None and few_shot.file:
        paths = [loaded.base_dir / few_shot.file]
    elif project is not None and project.config.data.train:
        paths = [project.resolve_path(p) for p in project.config.data.train]
    else:
        raise InvalidInput(
            "no_few_shot_examples",
            "few-shot variants need examples: set few_shot.file in the suite or data.train in tuneloop.yaml",
        )
    tag_fields = (project.config if project is not None else ProjectConfig()).data.tag_fields
    return [item for item in _from_files(paths, tag_fields) if item.id not in exclude]


def run_fit_check(
    project: Project | None,
    loaded: LoadedSuite,
    *,
    model: str | None = None,
    shots: list[int] | None = None,
    target: float | None = None,
    limit: int | None = None,
    use_cache: bool | None = None,
    progress: Progress = SILENT,
) -> FitCheck:
    """Run the foundation model on the suite zero-shot and k-shot; see the module docstring."""
    from tuneloop.evaluate.generation import describe_model, generate_for_model

    project_config = project.config if project is not None else ProjectConfig()
    reference = model or project_config.model.base
    config = project_config.eval
    use_cache = config.cache if use_cache is None else use_cache
    target = target if target is not None else (loaded.suite.fit_target or config.fit_target)
    ks = sorted(
        set(shots if shots is not None else (loaded.suite.few_shot.k if loaded.suite.few_shot else [0]))
    )
    items = load_items(loaded, project)
    items = items[:limit] if limit else items
    pool = _shot_pool(loaded, project, {i.id for i in items}) if any(k > 0 for k in ks) else []
    context = scoring_context(project, loaded, use_cache)
    _, identity = describe_model(project, reference)
    models: dict[str, ModelRun] = {}
    for k in ks:
        label = f"{reference} [{k}-shot]"
        conversations = conversations_for(loaded, items, project, few_shot=k, shot_pool=pool)
        generations = generate_for_model(
            project,
            reference,
            conversations,
            loaded.suite.generation,
            use_cache=use_cache,
            progress=progress,
            tools=tools_of(items),
        )
        table = score_model(loaded, items, generations, context)
        models[label] = ModelRun(label, generations, table, 0.0, label=label, identity=identity)
    zero = f"{reference} [{ks[0]}-shot]"
    plans = [
        CandidatePlan(label, baselines={f"{ks[0]}-shot": zero} if label != zero else {}) for label in models
    ]
    plan = EvaluationPlan(plans)
    alpha = config.significance
    comparisons = compare_models(
        models,
        plan,
        loaded,
        items,
        context,
        alpha=alpha,
        n_resamples=config.bootstrap_resamples,
        max_failure_rate=config.judge.max_failure_rate,
    )
    run = EvalRun(loaded, items, plan, models, comparisons, alpha, loaded.suite.generation, few_shot=max(ks))
    primary = loaded.suite.primary
    variants: dict[str, dict[str, Any]] = {}
    for k, (label, result) in zip(ks, models.items(), strict=True):
        scores = [s for s in result.table.scores(primary) if s is not None]
        interval = bootstrap_ci(scores, confidence=1 - alpha) if scores else None
        variants[f"{k}-shot"] = {
            "k": k,
            "model": label,
            "mean": interval.estimate if interval else None,
            "ci": [interval.low, interval.high] if interval else None,
            "n": len(scores),
        }
    best = max(variants, key=lambda v: variants[v]["mean"] if variants[v]["mean"] is not None else -1.0)
    already = variants[best]["mean"] is not None and variants[best]["mean"] >= target
    return FitCheck(run, reference, primary, target, variants, best, already)
