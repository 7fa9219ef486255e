"""Evaluation: suites, metrics, judges, batched generation, paired statistics, gates and reports.

The stage's public API; other stages (red-teaming, training's post-train hook) import from here.

- generation: :func:`generate_batch`, :func:`generate_for_model`, :class:`GenerationSettings`,
  :class:`Generation`, :class:`GenerationCache`, :func:`load_for_evaluation`;
- statistics: :func:`mcnemar_exact`, :func:`paired_bootstrap`, :func:`bootstrap_ci`,
  :func:`wilson_interval`, :func:`compare_paired`, :class:`Comparison`, :func:`rate_difference`,
  :func:`non_inferiority`, :func:`sign_flip_test`, :func:`win_tie_loss_test`;
- judges: :func:`make_judge`, :class:`OpenAICompatibleJudge`, :class:`LocalModelJudge`,
  :func:`run_judge`, :func:`rubric_request`, :func:`pairwise_request`, :func:`combine_orders`;
- metrics: :data:`METRICS`, :func:`register_metric`, :class:`MetricValue`, :func:`score_outputs`;
- the verbs, each doing its whole job (the report stored, one result attached per candidate):
  :func:`run` (``eval run``), :func:`score` (``eval score``), :func:`baseline` (``eval baseline``),
  :func:`gate` (``eval gate``), :func:`stored` (``eval show``), :func:`list_evaluations`,
  :func:`compare_evaluations`, and :func:`run_default_suites` (the evaluation after training);
- building blocks: :func:`load_suite`, :func:`run_suite` and :func:`record_run` (a run, then its
  record), :func:`run_fit_check`, :func:`score_files`, :func:`evaluate_gates`, :class:`GateResult`
  (the one gate-result type; red-teaming uses it too) and :func:`gates_passed`.
"""

from tuneloop.evaluate.cache import GenerationCache
from tuneloop.evaluate.defaults import DefaultSuitesResult, run_default_suites
from tuneloop.evaluate.evaluations import RecordedRun, compare_evaluations, list_evaluations, record_run
from tuneloop.evaluate.fitcheck import FitCheck, run_fit_check
from tuneloop.evaluate.gates import GateResult, evaluate_gates, gates_passed
from tuneloop.evaluate.generation import (
    Generation,
    GenerationSettings,
    forget_loaded_models,
    generate_batch,
    generate_for_model,
    load_for_evaluation,
    project_cache,
    render_prompt,
)
from tuneloop.evaluate.items import EvalItem, load_items
from tuneloop.evaluate.judges import (
    JudgeBackend,
    JudgeOutcome,
    JudgeRequest,
    LocalModelJudge,
    OpenAICompatibleJudge,
    PairwiseVerdict,
    RubricVerdict,
    combine_orders,
    make_judge,
    pairwise_request,
    parse_verdict,
    rubric_request,
    run_judge,
)
from tuneloop.evaluate.metrics import (
    METRICS,
    MetricDefinition,
    MetricOptions,
    MetricValue,
    ScoringContext,
    ScoringInput,
    register_metric,
    score_outputs,
)
from tuneloop.evaluate.runner import EvalRun, MetricComparison, run_suite
from tuneloop.evaluate.score_file import score_files
from tuneloop.evaluate.stats import (
    Comparison,
    Interval,
    NonInferiority,
    bootstrap_ci,
    compare_paired,
    mcnemar_exact,
    non_inferiority,
    paired_bootstrap,
    rate_difference,
    sign_flip_test,
    wilson_interval,
    win_tie_loss_test,
)
from tuneloop.evaluate.suites import LoadedSuite, Suite, load_suite
from tuneloop.evaluate.workflow import (
    GateOutcome,
    RecordedFitCheck,
    ScoredOutputs,
    StoredEvaluation,
    baseline,
    gate,
    run,
    score,
    stored,
)

__all__ = [
    "METRICS",
    "Comparison",
    "DefaultSuitesResult",
    "EvalItem",
    "EvalRun",
    "FitCheck",
    "GateOutcome",
    "GateResult",
    "Generation",
    "GenerationCache",
    "GenerationSettings",
    "Interval",
    "JudgeBackend",
    "JudgeOutcome",
    "JudgeRequest",
    "LoadedSuite",
    "LocalModelJudge",
    "MetricComparison",
    "MetricDefinition",
    "MetricOptions",
    "MetricValue",
    "NonInferiority",
    "OpenAICompatibleJudge",
    "PairwiseVerdict",
    "RecordedFitCheck",
    "RecordedRun",
    "RubricVerdict",
    "ScoredOutputs",
    "ScoringContext",
    "ScoringInput",
    "StoredEvaluation",
    "Suite",
    "baseline",
    "bootstrap_ci",
    "combine_orders",
    "compare_evaluations",
    "compare_paired",
    "evaluate_gates",
    "forget_loaded_models",
    "gate",
    "gates_passed",
    "generate_batch",
    "generate_for_model",
    "list_evaluations",
    "load_for_evaluation",
    "load_items",
    "load_suite",
    "make_judge",
    "mcnemar_exact",
    "non_inferiority",
    "paired_bootstrap",
    "pairwise_request",
    "parse_verdict",
    "project_cache",
    "rate_difference",
    "record_run",
    "register_metric",
    "render_prompt",
    "rubric_request",
    "run",
    "run_default_suites",
    "run_fit_check",
    "run_judge",
    "run_suite",
    "score",
    "score_files",
    "score_outputs",
    "sign_flip_test",
    "stored",
    "wilson_interval",
    "win_tie_loss_test",
]
