"""The primary metric of a suite on a model that is still training: what early stopping selects on.

The holdout loss says whether the model fits the answers' tokens; the suite's primary metric (exact
match, category accuracy, valid JSON ...) says whether it does the task, and the two can disagree —
a model whose loss still falls may already answer every item right, and one whose loss rises may
still be getting better at the task. When the project has a suite whose primary metric needs neither
a judge nor sampling, training scores the live model on the first ``limit`` of its items at every
holdout evaluation, with the suite's own prompts, generation settings and metric, without the disk
cache (the weights change between calls) and without baselines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuneloop.evaluate.defaults import default_suite_references
from tuneloop.evaluate.generation import generate_batch
from tuneloop.evaluate.items import EvalItem, load_items
from tuneloop.evaluate.metrics import ScoringContext, get_metric, outputs_of
from tuneloop.evaluate.runner import conversations_for, score_model, scoring_context, tools_of
from tuneloop.evaluate.suites import BUILTIN_PREFIX, LoadedSuite, load_suite
from tuneloop.models import LoadedModel

if TYPE_CHECKING:
    from tuneloop.models import ResolvedModel
    from tuneloop.project import Project

JUDGED_METRICS = ("judge_rubric", "judge_pairwise")
"""Metrics that ask a judge model: too slow and costly to run at every holdout evaluation."""


@dataclass
class SuiteProbe:
    """Scores a model on a few items of one suite with the suite's primary metric."""

    suite: LoadedSuite
    items: list[EvalItem]
    conversations: list[list[dict[str, Any]]]
    context: ScoringContext
    metric: str
    """The primary metric's score column."""
    higher_is_better: bool
    tokenizer: Any
    resolved: ResolvedModel

    @property
    def name(self) -> str:
        """The metric's name in the run's metrics (``eval_<metric>``)."""
        return f"eval_{self.metric}"

    def describe(self) -> str:
        return f"{self.metric} of suite {self.suite.suite.name} on {len(self.items)} items"

    def __call__(self, model: Any) -> float:
        """The mean primary score of ``model``'s greedy answers (NaN when no item could be scored)."""
        import torch

        device = next(model.parameters()).device.type
        loaded = LoadedModel(model, self.tokenizer, self.resolved, device)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                generations = generate_batch(
                    loaded, self.conversations, self.suite.suite.generation, tools=tools_of(self.items)
                )
        finally:
            model.train(was_training)
        scores = [
            s for s in score_model(self.suite, self.items, generations, self.context).scores(self.metric)
        ]
        present = [s for s in scores if s is not None]
        return sum(present) / len(present) if present else math.nan


def suite_probe(
    project: Project, resolved: ResolvedModel, tokenizer: Any, *, limit: int
) -> tuple[SuiteProbe | None, str]:
    """A probe of the project's first default suite that can be scored cheaply, with why (or why not)."""
    reasons = []
    for reference in default_suite_references(project):
        if reference.startswith(BUILTIN_PREFIX):
            continue
        loaded = load_suite(reference, project)
        primary = loaded.suite.primary
        spec = next((m for m in loaded.suite.metrics if primary in [o.name for o in outputs_of(m)]), None)
        output = next((o for o in outputs_of(spec) if o.name == primary), None) if spec else None
        definition = get_metric(spec.name) if spec else None
        if definition is None or output is None:
            continue
        if definition.name in JUDGED_METRICS or definition.pairwise or definition.sampling is not None:
            reasons.append(f"{loaded.suite.name}'s primary metric {primary} needs a judge or samples")
            continue
        items = load_items(loaded, project)[:limit]
        if not items:
            continue
        probe = SuiteProbe(
            suite=loaded,
            items=items,
            conversations=conversations_for(loaded, items, project),
            context=scoring_context(project, loaded, use_cache=False),
            metric=primary,
            higher_is_better=output.higher_is_better is not False,
            tokenizer=tokenizer,
            resolved=resolved,
        )
        return probe, probe.describe()
    return None, "; ".join(reasons) or "the project has no eval suite of its own"
