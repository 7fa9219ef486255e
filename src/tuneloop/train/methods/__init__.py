"""Training methods: one module per method, each declaring everything a run needs in a ``METHOD``.

A method module (``sft.py``, ``cpt.py``, ``dpo.py``, ``orpo.py``, ``kto.py``) exposes ``METHOD``, a
:class:`TrainingMethod`: the record kinds it trains on, how records become training items, its
objective, whether it needs the starting model's log-probabilities, its default learning rate and the
settings it forces. Settings, tokenisation, the pre-flight, the run and the loop ask this registry and
hold no per-method branches, so adding a method is adding one module (see docs/training.md).

Discovery: every module found on this package's ``__path__`` whose name does not start with ``_``
is a method, named by its ``METHOD.name``. A method kept outside the package is added by appending its
directory to ``tuneloop.train.methods.__path__`` (from Python) or by listing the directory in the
``TUNELOOP_METHODS_PATH`` environment variable (``os.pathsep``-separated, for the CLI). Method
modules import torch inside their functions only: the config validates ``train.method`` against this
registry, and loading a config must stay light.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneloop.config.train import LossMasking, register_method_catalog
from tuneloop.errors import InvalidInput, Location
from tuneloop.train.objectives import Forward, Objective, label_log_probs
from tuneloop.train.tokenize import TrainingItem

METHODS_PATH_VARIABLE = "TUNELOOP_METHODS_PATH"
"""Extra directories searched for method modules (``os.pathsep``-separated)."""


@dataclass(frozen=True)
class TokenizeOptions:
    """What tokenising records for training needs besides the records."""

    tokenizer: Any  # a transformers tokenizer (untyped third-party object)
    max_length: int
    masking: LossMasking
    system_prompt: str | None = None
    seed: int = 0


@dataclass(frozen=True)
class RateInputs:
    """What a default learning-rate rule may look at."""

    method: str
    model_dir: Path
    adapter: bool
    """Low-rank adapters (lora, qlora, dora) rather than full weights."""
    alpha: int
    """The adapter's scaling numerator (``lora.alpha``, derived when unset)."""


@dataclass(frozen=True)
class AuxiliaryInputs:
    """What a method's extra forward pass sees (KTO's reference point): the micro-batch's items
    and a collate function for chosen roles of them."""

    model: Any  # the (accelerate-wrapped) transformers model
    collate_roles: Callable[[tuple[int, ...]], Any]
    """Collate the micro-batch's sequences of these roles, on the training device."""
    reference: Any
    """``[items, roles]`` reference log-probabilities of the micro-batch (None without a reference)."""
    full_logits: bool
    bf16: bool


Tokenize = Callable[[list[Any], TokenizeOptions], list[TrainingItem]]
LearningRateRule = Callable[[RateInputs], tuple[float, str]]
"""Returns the peak learning rate and its derivation as ``--dry-run`` shows it (``"5e-05: ..."``)."""
AuxiliaryForward = Callable[[AuxiliaryInputs], dict[str, Any]]
"""Extra keyword inputs of the objective computed from another forward pass."""


@dataclass(frozen=True)
class TrainingMethod:
    """Everything that differs between training methods."""

    name: str
    """The value of ``train.method`` / ``--method``."""
    help: str
    """One line for ``--method`` help and the docs."""
    record_kinds: tuple[str, ...]
    """Record kinds trained on (the first one names them in messages); the holdout's records of these
    kinds give the eval loss."""
    trains_on: str
    """The records in words, for errors (``chat conversations``)."""
    tokenize: Tokenize
    objective: Objective
    learning_rate: LearningRateRule
    needs_reference: bool = False
    """The loss compares the policy with the starting model: its log-probabilities are computed once
    before training."""
    chat: bool = True
    """Items are chat renderings (the pre-flight checks that turns end with the end-of-turn token)."""
    packing: bool = False
    """Default of ``train.packing``."""
    loss_masking: LossMasking | None = None
    """Forced ``loss_masking`` (raw text trains on every token); None keeps the configured one."""
    forward_roles: tuple[int, ...] | None = None
    """Sequences of each item in the main forward pass (None: all of them)."""
    forward: Forward = label_log_probs
    """The main forward pass; a method that needs more than the targets' log-probabilities (the
    whole distribution, say) computes it from :func:`~tuneloop.train.objectives.label_logits` and
    puts it in ``LabelLogProbs.extras``."""
    auxiliary: AuxiliaryForward | None = None
    """An extra pass before the main one whose results become objective inputs (kto's KL point)."""


def _search_path() -> list[str]:
    """The package's ``__path__``, extended by ``TUNELOOP_METHODS_PATH``'s directories."""
    extra = [p for p in os.environ.get(METHODS_PATH_VARIABLE, "").split(os.pathsep) if p]
    for directory in extra:
        if directory not in __path__:
            __path__.append(directory)
    return list(__path__)


def available_methods() -> dict[str, TrainingMethod]:
    """Every method module found, by method name, sorted by name."""
    found: dict[str, TrainingMethod] = {}
    for module_info in pkgutil.iter_modules(_search_path()):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        method = getattr(module, "METHOD", None)
        if not isinstance(method, TrainingMethod):
            raise TypeError(f"{module.__name__} is in the methods package but defines no METHOD")
        found[method.name] = method
    return dict(sorted(found.items()))


def method_names() -> list[str]:
    """The names ``train.method`` accepts (the config's catalog, the ``--method`` help)."""
    return list(available_methods())


_found: dict[str, TrainingMethod] = {}
"""Methods already looked up: the loop asks for its method at every micro-batch."""


def get_method(name: str) -> TrainingMethod:
    """The method called ``name``; an unknown one is a usage error listing the available ones."""
    if name in _found:
        return _found[name]
    methods = available_methods()
    _found.update(methods)
    if name not in methods:
        raise InvalidInput(
            "unknown_method",
            f"unknown training method {name!r}; available: {', '.join(methods)}",
            Location(field="train.method"),
        )
    return methods[name]


register_method_catalog(method_names)
