"""Default peak learning rates: the rules training methods choose from (``TrainingMethod.learning_rate``).

Supervised methods (sft, cpt) derive the rate from the model's width (:func:`width_scaled_rate`);
preference methods use fixed, much lower rates (:func:`fixed_rates`, TRL's and the papers' settings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuneloop.train.methods import LearningRateRule, RateInputs

PREFERENCE_RATES = {"adapter": 5e-5, "full": 1e-6}
"""Peak learning rates of the preference methods (dpo, orpo, kto) for adapters and full weights."""

FULL_FINETUNE_BASE_RATE = 5e-5
"""Full fine-tuning's best rate for a 2000-wide model; it scales with ``(2000 / hidden_size)^p``."""
WIDTH_EXPONENTS = {"qwen2": 0.0775, "qwen2_moe": 0.0775, "qwen3": 0.0775, "qwen3_moe": 0.0775}
"""``p`` fitted per model family by Schulman et al. ("LoRA Without Regret", Thinking Machines 2025);
every other family takes the Llama fit, ``DEFAULT_WIDTH_EXPONENT``."""
DEFAULT_WIDTH_EXPONENT = 0.781
LORA_RATE_MULTIPLIER = 10.0
"""LoRA's best rate is about ten times full fine-tuning's (the same paper; about 15x in short runs)."""
REFERENCE_LORA_ALPHA = 32
"""The paper's LoRA scale is ``32 / r``: with Adam, an adapter's update grows with ``alpha``, so the
rate is scaled by ``32 / alpha`` to keep the same step size (1 at the default r 16, alpha 32)."""


def supervised_learning_rate(model_dir: Path, *, adapter: bool, alpha: int) -> tuple[float, str]:
    """The sft/cpt peak rate from the model's width, with the formula that gave it."""
    config = json.loads((model_dir / "config.json").read_text())
    config = config.get("text_config", config)
    hidden = int(config.get("hidden_size") or config.get("n_embd") or 2000)
    family = str(config.get("model_type", ""))
    exponent = WIDTH_EXPONENTS.get(family, DEFAULT_WIDTH_EXPONENT)
    rate = FULL_FINETUNE_BASE_RATE * (2000 / hidden) ** exponent
    formula = f"5e-5 x (2000 / hidden {hidden})^{exponent:g}"
    if adapter:
        rate *= LORA_RATE_MULTIPLIER * REFERENCE_LORA_ALPHA / alpha
        formula += f" x 10 (LoRA) x 32 / alpha {alpha}"
    return rate, formula + ' ("LoRA Without Regret", 2025)'


def width_scaled_rate(inputs: RateInputs) -> tuple[float, str]:
    """The supervised rule: :func:`supervised_learning_rate` for the run's model and adapter."""
    rate, why = supervised_learning_rate(inputs.model_dir, adapter=inputs.adapter, alpha=inputs.alpha)
    return rate, f"{rate:.3g}: {why}"


def fixed_rates(adapter: float, full: float) -> LearningRateRule:
    """A rule with one rate for adapters and one for full weights."""

    def rule(inputs: RateInputs) -> tuple[float, str]:
        kind = "adapter" if inputs.adapter else "full"
        rate = adapter if inputs.adapter else full
        return rate, f"{rate:g}: default for {inputs.method} with {kind} training"

    return rule
