"""Loaded models for serving: one base model in memory answers for many registered adapters.

A base model (``Target.base_path``) is loaded once. Each registered version's PEFT adapter is added to
it under the Target's identity (PEFT multi-adapter), so two versions never collide and switching
between them costs a ``set_adapter``, not a load. A base-model Target runs on the same weights with
adapters disabled. Full-weights versions and other bases are other models, kept in a small LRU.

Only safetensors weights are loaded (no pickle): a base directory or an adapter directory without
safetensors files is refused. The pool is used from the engine's single worker thread; a lock keeps
it consistent if the event loop loads the default model at the same time.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneloop.models import LoadedModel, ResolvedModel
from tuneloop.serve.backend import BackendError, Target

ADAPTER_WEIGHTS = "adapter_model.safetensors"


@dataclass
class _BaseEntry:
    """One loaded set of base weights and the adapters added to it (adapter name -> tokenizer)."""

    model: Any
    """A transformers causal LM, or the PeftModel wrapping it once an adapter was added."""
    tokenizer: Any
    device: str
    adapters: OrderedDict[str, Any] = field(default_factory=OrderedDict)


@dataclass
class PooledModel:
    """A Target ready to generate: the shared model, its tokenizer, and which adapter to run."""

    loaded: LoadedModel
    adapter_name: str | None

    @contextlib.contextmanager
    def active(self) -> Iterator[Any]:
        """Select this Target's adapter for the duration of one batch (adapters off for a base)."""
        from peft import PeftModel

        model = self.loaded.model
        if self.adapter_name is not None:
            model.set_adapter(self.adapter_name)
            yield model
        elif isinstance(model, PeftModel):
            with model.disable_adapter():
                yield model
        else:
            yield model


def adapter_name(target: Target) -> str:
    """The PEFT adapter name of a version: its weights identity, so two versions never share one."""
    return f"v{target.identity}"


def check_safetensors(target: Target) -> None:
    """Refuse weights that are not safetensors (loading pickled weights can run arbitrary code)."""
    if not target.base_path.is_dir():
        raise BackendError(
            f"{target.reference}: model directory {target.base_path} is missing",
            status=500,
            code="model_unavailable",
        )
    if not any(target.base_path.glob("*.safetensors")):
        raise BackendError(
            f"{target.reference}: {target.base_path} holds no safetensors weights; only safetensors "
            "are loaded",
            code="unsafe_weights",
        )
    adapter = target.adapter_path
    if adapter is not None and not (adapter / ADAPTER_WEIGHTS).is_file():
        raise BackendError(
            f"{target.reference}: adapter {adapter} has no {ADAPTER_WEIGHTS}; only safetensors are loaded",
            code="unsafe_weights",
        )


class ModelPool:
    """Loads base models (at most ``max_models`` at once) and the adapters served on them."""

    def __init__(
        self,
        *,
        dtype: str = "auto",
        device: str | None = None,
        max_models: int = 2,
        max_adapters: int = 8,
    ) -> None:
        from tuneloop.models import pick_device, quiet_transformers
        from tuneloop.models.loading import apply_thread_override

        quiet_transformers()
        apply_thread_override()
        self._dtype = dtype
        self._device = device or pick_device()
        self._max_models = max_models
        self._max_adapters = max_adapters
        self._bases: OrderedDict[tuple[str, str], _BaseEntry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def models_loaded(self) -> int:
        """Base models in memory now."""
        return len(self._bases)

    def get(self, target: Target) -> PooledModel:
        """The model that answers as ``target``, loading its base and adapter on first use."""
        check_safetensors(target)
        with self._lock:
            entry = self._base_entry(target)
            name = None
            tokenizer = entry.tokenizer
            if target.adapter_path is not None:
                name = adapter_name(target)
                tokenizer = self._adapter_tokenizer(entry, name, target.adapter_path)
        resolved = ResolvedModel(
            reference=target.reference,
            base_path=target.base_path,
            base_weights_sha256=target.base_weights_sha256,
            adapter_path=target.adapter_path,
            merged_weights=target.merged_weights,
        )
        loaded = LoadedModel(model=entry.model, tokenizer=tokenizer, resolved=resolved, device=entry.device)
        return PooledModel(loaded=loaded, adapter_name=name)

    def _base_entry(self, target: Target) -> _BaseEntry:
        key = (str(target.base_path.resolve()), target.base_weights_sha256)
        entry = self._bases.get(key)
        if entry is not None:
            self._bases.move_to_end(key)
            return entry
        while len(self._bases) >= self._max_models:
            self._bases.popitem(last=False)  # least recently used; freed once its last batch ends
        entry = self._load_base(target.base_path)
        self._bases[key] = entry
        return entry

    def _load_base(self, path: Path) -> _BaseEntry:
        from transformers import AutoModelForCausalLM

        from tuneloop.models import load_tokenizer, resolve_dtype

        try:  # transformers' model classes are typed too loosely to name one type here
            model: Any = AutoModelForCausalLM.from_pretrained(
                path, dtype=resolve_dtype(self._dtype, self._device), use_safetensors=True
            )
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load the model at {path}: {exc}", code="model_unavailable") from exc
        model.to(self._device)
        model.eval()
        return _BaseEntry(model=model, tokenizer=load_tokenizer(path), device=self._device)

    def _adapter_tokenizer(self, entry: _BaseEntry, name: str, adapter: Path) -> Any:
        """Add the adapter on first use; its tokenizer is its own when it carries one (as in training)."""
        if name in entry.adapters:
            entry.adapters.move_to_end(name)
            return entry.adapters[name]
        from peft import PeftModel

        from tuneloop.models import load_tokenizer

        try:
            if isinstance(entry.model, PeftModel):
                entry.model.load_adapter(adapter, adapter_name=name, is_trainable=False)
            else:
                entry.model = PeftModel.from_pretrained(entry.model, adapter, adapter_name=name)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise BackendError(
                f"cannot load the adapter at {adapter}: {exc}", code="model_unavailable"
            ) from exc
        entry.model.eval()
        own = (adapter / "tokenizer_config.json").is_file()
        entry.adapters[name] = load_tokenizer(adapter) if own else entry.tokenizer
        while len(entry.adapters) > self._max_adapters:
            evicted, _ = entry.adapters.popitem(last=False)
            entry.model.delete_adapter(evicted)
        return entry.adapters[name]
