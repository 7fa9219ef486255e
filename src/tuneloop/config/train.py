"""The ``train`` section: method, adapter and hyper-parameters (most are derived when left unset).

A few settings derive the rest (see ``docs/training.md`` for the formulas): the trained-token budget
per optimizer step sets gradient accumulation, the micro-batch token budget comes from memory, and
the learning rate, warm-up, checkpoint and evaluation intervals follow from the method, the adapter
and the number of steps. Every derived value is printed by ``tuneloop train --dry-run`` and stored
with the run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tuneloop.config._base import StrictModel

LossMasking = Literal["assistant_only", "completion_only", "full"]
Tracker = Literal["tensorboard", "mlflow", "wandb"]


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


class PreferenceSettings(StrictModel):
    """Settings of the preference methods (DPO, ORPO, KTO)."""

    beta: float = Field(default=0.1, gt=0)
    """DPO and KTO temperature: how strongly the policy may move away from the reference model."""
    orpo_lambda: float = Field(default=0.1, gt=0)
    """ORPO weight of the odds-ratio term added to the chosen answers' language-model loss."""
    desirable_weight: float = Field(default=1.0, gt=0)
    """KTO weight of desirable (chosen) examples; raise it when they are rarer than undesirable ones."""
    undesirable_weight: float = Field(default=1.0, gt=0)
    """KTO weight of undesirable (rejected) examples."""


class TrainSection(StrictModel):
    """Training settings."""

    method: Literal["sft", "cpt", "dpo", "orpo", "kto"] = "sft"
    """sft: supervised; cpt: continued pre-training on raw text; dpo/orpo/kto: preference tuning."""
    adapter: Literal["lora", "qlora", "dora", "full"] = "lora"
    """How weights are trained: low-rank adapters (lora, 4-bit qlora, dora) or all weights."""
    lora: LoraSettings = Field(default_factory=LoraSettings)
    """Adapter settings."""
    preference: PreferenceSettings = Field(default_factory=PreferenceSettings)
    """DPO / ORPO / KTO settings."""
    learning_rate: float | None = Field(default=None, gt=0)
    """Peak learning rate; None derives it: 2e-4 for adapters and 2e-5 for full weights (sft, cpt),
    5e-5 for adapters and 1e-6 for full weights (dpo, orpo, kto)."""
    epochs: float = Field(default=3.0, gt=0)
    """Passes over the training data."""
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many optimizer steps (overrides epochs)."""
    tokens_per_step: int | None = Field(default=None, ge=16)
    """Trained-token budget per optimizer step (tokens that carry loss, summed over all processes);
    gradient accumulation is derived from it. None derives it from the data: one epoch's trained
    tokens / 32, between 512 and 16384, so a small dataset still gets enough optimizer steps."""
    micro_batch_tokens: int | None = Field(default=None, ge=16)
    """Tokens (rows x longest row, padding included) in one forward pass; None derives it from the
    memory available and the model's size (see docs/training.md)."""
    max_micro_batch: int = Field(default=64, ge=1)
    """At most this many sequences in one forward pass, whatever the token budget allows."""
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    """Fraction of the optimizer steps over which the learning rate rises linearly from 0."""
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    """Learning-rate schedule after warm-up."""
    weight_decay: float = Field(default=0.0, ge=0)
    """AdamW decoupled weight decay."""
    max_grad_norm: float | None = Field(default=1.0, gt=0)
    """Clip the global gradient norm to this value; None disables clipping."""
    packing: bool | None = None
    """Pack several examples into one row (position ids restart and a block-diagonal attention mask
    keeps them apart). None: on for cpt, off otherwise, where length-grouped batches already avoid
    padding and keep the fast causal attention path."""
    loss_masking: LossMasking = "assistant_only"
    """Which tokens of chat data carry loss: every assistant turn (``assistant_only``), only the last
    assistant turn (``completion_only``) or every token (``full``). Raw text (cpt) is always ``full``.
    A message with ``weight: 0`` is never trained on."""
    save_every_steps: int | None = Field(default=None, ge=1)
    """Write a resumable checkpoint every N optimizer steps; None: about ten per run."""
    keep_checkpoints: int = Field(default=2, ge=1)
    """Keep only the newest N checkpoints of a run."""
    eval_every_steps: int | None = Field(default=None, ge=0)
    """Compute the holdout loss every N steps (0: only at the end); None: four times per run."""
    eval_max_examples: int = Field(default=200, ge=1)
    """Holdout examples used for the eval loss during training (the eval stage uses all of them)."""
    report_to: list[Tracker] = Field(default_factory=list)
    """Also log metrics to these trackers through accelerate's integrations (installed separately:
    ``pip install tensorboard`` / ``mlflow`` / ``wandb``)."""
    gradient_checkpointing: bool | None = None
    """Recompute activations in the backward pass to save memory; None: on for full and qlora
    training on GPU, off on CPU (where memory is plentiful and recomputation costs a third)."""
    bf16: Literal["auto", "on", "off"] = "auto"
    """bf16 autocast of matrix multiplications; ``auto`` turns it on for GPUs with bf16 and for CPUs
    with AMX or AVX512-BF16 (on other CPUs bf16 is emulated and much slower than fp32)."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads for torch; None: the physical cores available to this process."""
    eval_after_train: bool = True
    """Run the project's default eval suites on the new version when training finishes."""
    parent: str | None = None
    """Continue from a registered version (``name:3`` or ``name@alias``): its adapter keeps training
    (or its full weights become the starting point); the run records the parent in its lineage."""
    register_as: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """Register the result under this model name; None uses ``project.name``."""
    seed: int = 42
    """Seed for data order, initialisation and dropout."""
