"""The ``train`` section: method, adapter and hyper-parameters (most are derived when left unset).

A few settings derive the rest (see ``docs/training.md`` for the formulas): the number of examples
per optimizer step and the number of epochs follow from the dataset's size, the learning rate from
the method, the adapter and the model's width, the micro-batch token budget from memory, and the
warm-up, checkpoint and evaluation intervals from the number of steps. Every derived value is printed
by ``tuneloop train --dry-run`` and stored with the run. The derivation rules of the size-dependent
defaults live here (:func:`derive_examples_per_step`, :func:`derive_epochs`) because the data stage's
training estimate uses them too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import Field, field_validator

from tuneloop.config.strict_model import StrictModel

LossMasking = Literal["assistant_only", "completion_only", "full"]
Tracker = Literal["tensorboard", "mlflow", "wandb"]


MethodCatalog = Callable[[], Sequence[str]]
_catalog: dict[str, MethodCatalog] = {}


def register_method_catalog(catalog: MethodCatalog) -> None:
    """Let ``train.method`` be checked against the training methods that exist.

    The methods live in the training stage (:mod:`tuneloop.train.methods`, one module each), which
    depends on this package and calls this when it is imported; the config cannot import the stage
    without a cycle. Until then (a script that loads a config without the training stage) any name
    passes here, and the stage checks it again when it trains."""
    _catalog["methods"] = catalog


def known_method(name: str) -> str:
    """``name`` when it is a registered training method, else a ValueError listing the methods."""
    catalog = _catalog.get("methods")
    names = list(catalog()) if catalog is not None else [name]
    if name not in names:
        raise ValueError(f"unknown training method {name!r}; available: {', '.join(names)}")
    return name


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

    method: str = "sft"
    """A module of ``tuneloop.train.methods``: sft (supervised), cpt (continued pre-training on raw
    text), dpo / orpo / kto (preference tuning), or one of your own (docs/training.md)."""
    adapter: Literal["lora", "qlora", "dora", "full"] = "lora"
    """How weights are trained: low-rank adapters (lora, 4-bit qlora, dora) or all weights."""
    lora: LoraSettings = Field(default_factory=LoraSettings)
    """Adapter settings."""
    preference: PreferenceSettings = Field(default_factory=PreferenceSettings)
    """DPO / ORPO / KTO settings."""
    learning_rate: float | None = Field(default=None, gt=0)
    """Peak learning rate; None derives it. sft/cpt: ``5e-5 x (2000 / hidden_size)^p`` for full
    weights (``p`` = 0.781, 0.0775 for Qwen models), ten times that for adapters, scaled by
    ``32 / lora.alpha`` (Schulman et al., "LoRA Without Regret", 2025); dpo/orpo/kto: 5e-5 for
    adapters, 1e-6 for full weights."""
    epochs: float | None = Field(default=None, gt=0)
    """Passes over the training data; None derives them from the dataset's size: 3, more for small
    sets (until the run has about 100 optimizer steps, at most 10 passes), fewer for large ones (about
    25,000 examples seen in all, at least one pass). Early stopping makes the extra passes safe."""
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many optimizer steps (overrides epochs)."""
    examples_per_step: int | None = Field(default=None, ge=1)
    """Examples (conversations, preference pairs, text chunks) per optimizer step, summed over all
    processes; gradient accumulation is derived from it. None derives it: 0.2% of the training
    examples, between 8 and 64 (small batches give small datasets enough optimizer steps, and LoRA
    learns worse than full fine-tuning from very large batches)."""
    tokens_per_step: int | None = Field(default=None, ge=16)
    """Instead of a number of examples, fill each optimizer step with this many trained tokens
    (tokens that carry loss, summed over all processes): for data whose answers vary a lot in length.
    Overrides ``examples_per_step``."""
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
    """Compute the holdout loss every N steps (0: only at the end); None: twice per epoch, at most
    twenty times per run."""
    early_stopping_patience: int = Field(default=2, ge=0)
    """Stop when this many holdout evaluations in a row did not lower the best holdout loss by
    ``early_stopping_min_delta`` (with the derived interval, one epoch); 0 never stops early."""
    early_stopping_min_delta: float = Field(default=0.0, ge=0)
    """The smallest drop of the holdout loss that counts as an improvement."""
    early_stopping_metric: Literal["auto", "eval_loss", "primary"] = "auto"
    """What early stopping and ``keep_best`` compare. ``primary``: the primary metric of the project's
    first eval suite, scored on ``eval_metric_examples`` of its items at every holdout evaluation
    (ties go to the lower holdout loss); ``eval_loss``: the holdout loss; ``auto``: ``primary`` when
    the project has a suite whose primary metric needs no judge, else ``eval_loss``."""
    eval_metric_examples: int = Field(default=50, ge=1)
    """Suite items the primary metric is scored on during training (generation costs time)."""
    keep_best: bool = True
    """Register the weights of the best holdout evaluation, not the last step's."""
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

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        return known_method(value)


MIN_EXAMPLES_PER_STEP, MAX_EXAMPLES_PER_STEP = 8, 64
EXAMPLES_PER_STEP_SHARE = 0.002
"""The managed services' published practice: a batch of about 0.2% of the examples, within bounds."""
TARGET_EPOCHS, MAX_SMALL_DATA_EPOCHS = 3, 10
MIN_TARGET_STEPS = 100
"""Small datasets get more passes until the run has about this many optimizer steps."""
MAX_TARGET_EXAMPLES = 25_000
"""Large datasets get fewer passes: about this many examples seen in all (at least one pass)."""


def derive_examples_per_step(num_examples: int, world_size: int = 1) -> int:
    """``clamp(0.2% of the examples, 8, 64)``, rounded up to a multiple of the process count."""
    batch = min(
        MAX_EXAMPLES_PER_STEP, max(MIN_EXAMPLES_PER_STEP, round(EXAMPLES_PER_STEP_SHARE * num_examples))
    )
    return math.ceil(batch / world_size) * world_size


def derive_epochs(num_examples: int, examples_per_step: int) -> float:
    """3 passes; more (at most 10) until about 100 optimizer steps; fewer for over 25,000 examples."""
    if num_examples <= 0:
        return float(TARGET_EPOCHS)
    if num_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return float(max(1, MAX_TARGET_EXAMPLES // num_examples))
    steps_per_epoch = max(1, math.ceil(num_examples / examples_per_step))
    needed = math.ceil(MIN_TARGET_STEPS / steps_per_epoch)
    return float(min(MAX_SMALL_DATA_EPOCHS, max(TARGET_EPOCHS, needed)))
