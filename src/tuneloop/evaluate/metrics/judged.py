"""Judge metrics: ``judge_rubric`` (a score on a rubric) and ``judge_pairwise`` (candidate vs baseline).

Both go through :mod:`tuneloop.evaluate.judges`; items whose verdict could not be parsed after the
retries are failures (score None), counted in the report and in gates, never scored.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from tuneloop.evaluate.metrics.base import (
    MetricDefinition,
    MetricOptions,
    MetricValue,
    ScoringContext,
    ScoringInput,
    register_metric,
)


class RubricOptions(MetricOptions):
    """Options of ``judge_rubric``."""

    rubric: str = Field(min_length=5)
    """What a good answer does, in plain words (the judge grades against it)."""
    scale_min: int = 1
    """Lowest score of the scale."""
    scale_max: int = 5
    """Highest score of the scale."""
    use_reference: bool = True
    """Show the judge the reference answer."""
    pass_threshold: int | None = None
    """None: the score normalised to 0-1 (continuous); a number: 1 when the score is at least it."""

    @model_validator(mode="after")
    def _scale(self) -> RubricOptions:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be above scale_min")
        return self


class PairwiseOptions(MetricOptions):
    """Options of ``judge_pairwise``."""

    criteria: str = "helpfulness, correctness and following the instructions"
    """What "better" means here."""


def judge_backend(context: ScoringContext) -> Any:
    """The context's judge, built once from the project's judge settings."""
    if context.judge_backend is None:
        from tuneloop.config.evaluate import JudgeSettings
        from tuneloop.evaluate.judges import make_judge

        context.judge = context.judge or JudgeSettings()
        context.judge_backend = make_judge(context.judge, context.project)
    return context.judge_backend


def _settings(context: ScoringContext) -> Any:
    from tuneloop.config.evaluate import JudgeSettings

    return context.judge or JudgeSettings()


def _judge_rubric(
    inputs: list[ScoringInput], options: RubricOptions, context: ScoringContext
) -> list[dict[str, MetricValue]]:
    from tuneloop.evaluate.judges import (
        RubricRequestSpec,
        parse_rubric,
        rubric_request,
        rubric_schema,
        run_judge,
    )

    requests = [
        rubric_request(
            RubricRequestSpec(
                rubric=options.rubric,
                scale_min=options.scale_min,
                scale_max=options.scale_max,
                conversation=inp.item.messages if inp.item else [],
                answer=inp.prediction,
                reference=inp.reference if options.use_reference else None,
            )
        )
        for inp in inputs
    ]
    outcomes = run_judge(
        judge_backend(context),
        requests,
        parse_rubric(options.scale_min, options.scale_max),
        schema=rubric_schema(options.scale_min, options.scale_max),
        max_retries=_settings(context).max_retries,
        cache=context.disk_cache if context.use_cache else None,
    )
    binary = options.pass_threshold is not None
    span = options.scale_max - options.scale_min
    results = []
    for outcome in outcomes:
        if outcome.value is None:
            value = MetricValue.failed(
                outcome.error or "judge failed",
                binary=binary,
                attempts=outcome.attempts,
                raw=outcome.raw[:500],
            )
        else:
            raw_score = float(outcome.value.score)  # type: ignore[attr-defined]
            details = {
                "raw_score": raw_score,
                "reasoning": outcome.value.reasoning[:500],  # type: ignore[attr-defined]
                "attempts": outcome.attempts,
            }
            if binary:
                value = MetricValue.passed(raw_score >= float(options.pass_threshold or 0), **details)
            else:
                value = MetricValue((raw_score - options.scale_min) / span, details=details)
        results.append({"judge_rubric": value})
    return results


def _judge_pairwise(
    candidate: list[ScoringInput],
    baseline: list[ScoringInput],
    options: PairwiseOptions,
    context: ScoringContext,
) -> list[MetricValue]:
    from tuneloop.evaluate.judges import (
        PAIRWISE_SCHEMA,
        combine_orders,
        pairwise_request,
        parse_pairwise,
        run_judge,
    )

    requests = []
    for cand, base in zip(candidate, baseline, strict=True):
        conversation = cand.item.messages if cand.item else []
        requests.append(pairwise_request(options.criteria, conversation, cand.prediction, base.prediction))
        requests.append(pairwise_request(options.criteria, conversation, base.prediction, cand.prediction))
    outcomes = run_judge(
        judge_backend(context),
        requests,
        parse_pairwise,
        schema=PAIRWISE_SCHEMA,
        max_retries=_settings(context).max_retries,
        cache=context.disk_cache if context.use_cache else None,
    )
    values = []
    for index in range(len(candidate)):
        result = combine_orders(outcomes[2 * index], outcomes[2 * index + 1])
        if result.outcome is None:
            failed = result.first if result.first.value is None else result.swapped
            values.append(
                MetricValue.failed(
                    failed.error or "judge failed", attempts=failed.attempts, raw=failed.raw[:500]
                )
            )
            continue
        score = {"win": 1.0, "tie": 0.5, "loss": 0.0}[result.outcome]
        values.append(
            MetricValue(score, details={"outcome": result.outcome, "inconsistent": result.inconsistent})
        )
    return values


register_metric(
    MetricDefinition(
        name="judge_rubric",
        score=_judge_rubric,
        options=RubricOptions,
        description="an LLM judge's score on a rubric, normalised to 0-1 (or pass/fail with pass_threshold)",
        group="judge",
    )
)
register_metric(
    MetricDefinition(
        name="judge_pairwise",
        score=None,
        compare=_judge_pairwise,
        options=PairwiseOptions,
        description="an LLM judge prefers the candidate's or the baseline's answer (both orders asked)",
        group="judge",
    )
)
