"""The ``train`` section: method, adapter and hyper-parameters (most are derived when left unset)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tuneloop.config._base import StrictModel


class LoraSettings(StrictModel):
    """Low-rank adapter settings (LoRA, QLoRA and DoRA)."""

    r: int = Field(default=16, ge=1)
    """Adapter rank."""
    alpha: int | None = Field(default=None, ge=1)
    """Scaling numerator; None means ``2 * r``."""
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout on the adapter input."""
    target_modules: list[str] | None = None
    """Modules to adapt; None takes the catalog's list for the base model, else all linear layers."""


class TrainSection(StrictModel):
    """Training settings."""

    method: Literal["sft", "cpt", "dpo", "orpo", "kto"] = "sft"
    """sft: supervised; cpt: continued pre-training on raw text; dpo/orpo/kto: preference tuning."""
    adapter: Literal["lora", "qlora", "dora", "full"] = "lora"
    """How weights are trained: low-rank adapters (lora, 4-bit qlora, dora) or all weights."""
    lora: LoraSettings = Field(default_factory=LoraSettings)
    """Adapter settings."""
    learning_rate: float | None = Field(default=None, gt=0)
    """Peak learning rate; None derives it from the adapter (2e-4 for adapters, 2e-5 for full)."""
    epochs: float = Field(default=3.0, gt=0)
    """Passes over the training data."""
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many optimizer steps (overrides epochs)."""
    tokens_per_step: int = Field(default=8192, ge=64)
    """Trained-token budget per optimizer step; micro-batches and accumulation are derived from it."""
    seed: int = 42
    """Seed for data order, initialisation and dropout."""
