"""Evaluation: suites, metrics, judges, batched generation, paired statistics, gates and reports.

The stage's public API. Other stages (red-teaming, training's post-train hook) import from here:

- generation: :func:`generate_batch`, :func:`generate_for_model`, :class:`GenerationSettings`,
  :class:`Generation`, :class:`GenerationCache`;
- statistics: :func:`mcnemar_exact`, :func:`paired_bootstrap`, :func:`bootstrap_ci`,
  :func:`compare_paired`, :class:`Comparison`, :func:`rate_difference`, :func:`non_inferiority`.
"""

from tuneloop.evaluate.cache import GenerationCache
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

__all__ = [
    "Comparison",
    "Generation",
    "GenerationCache",
    "GenerationSettings",
    "Interval",
    "NonInferiority",
    "bootstrap_ci",
    "compare_paired",
    "forget_loaded_models",
    "generate_batch",
    "generate_for_model",
    "load_for_evaluation",
    "mcnemar_exact",
    "non_inferiority",
    "paired_bootstrap",
    "project_cache",
    "rate_difference",
    "render_prompt",
    "sign_flip_test",
    "wilson_interval",
    "win_tie_loss_test",
]
