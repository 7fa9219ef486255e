"""Load a base model for training: LoRA, QLoRA (4-bit NF4 base), DoRA or all weights.

A parent version's adapter keeps training (``is_trainable=True``); with ``adapter: full`` a parent
adapter is merged into its base first, so full fine-tuning starts from exactly the parent's weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneloop.models import ResolvedModel, quiet_transformers
from tuneloop.train.settings import TrainSettings


@dataclass
class TrainableModel:
    model: Any
    """A PEFT model (adapters) or a transformers model (full)."""
    tokenizer: Any
    kind: str
    """``adapter`` or ``full``: what the registered version will hold."""
    trainable_parameters: int
    total_parameters: int
    notes: list[str]


def load_tokenizer_for_training(resolved: ResolvedModel, chat_template: str | None) -> Any:
    """The tokenizer of the parent version (if it carries one) or of the base model."""
    from tuneloop.models import load_tokenizer

    adapter = resolved.adapter_path
    source = adapter if adapter and (adapter / "tokenizer_config.json").is_file() else resolved.base_path
    return load_tokenizer(source, chat_template)


def load_for_training(
    resolved: ResolvedModel,
    settings: TrainSettings,
    *,
    device: str,
    tokenizer: Any,
    model_dtype: str = "auto",
) -> TrainableModel:
    import torch
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    notes: list[str] = []
    kwargs: dict[str, Any] = {"dtype": _weights_dtype(settings, device, model_dtype)}
    if settings.adapter == "qlora":
        kwargs["quantization_config"] = _nf4_config(settings)
        if device == "cuda":
            kwargs["device_map"] = {"": torch.cuda.current_device()}
    model = AutoModelForCausalLM.from_pretrained(resolved.base_path, **kwargs)
    model.config.use_cache = False
    if settings.adapter == "full":
        model = _merge_parent(model, resolved.adapter_path, notes)
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        if settings.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        kind = "full"
    else:
        model = _with_adapter(model, resolved.adapter_path, settings, notes)
        kind = "adapter"
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return TrainableModel(model, tokenizer, kind, trainable, total, notes)


def _weights_dtype(settings: TrainSettings, device: str, name: str) -> Any:
    """Trainable weights stay fp32 (speed comes from autocast); a frozen base on GPU may be bf16."""
    import torch

    from tuneloop.models import resolve_dtype

    if name != "auto":
        return resolve_dtype(name, device)
    if device == "cuda" and settings.adapter in ("lora", "dora") and settings.bf16:
        return torch.bfloat16
    return torch.float32


def _nf4_config(settings: TrainSettings) -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if settings.bf16 else torch.float32,
    )


def _merge_parent(model: Any, adapter_path: Path | None, notes: list[str]) -> Any:
    if adapter_path is None:
        return model
    from peft import PeftModel

    notes.append(f"merged the parent's adapter ({adapter_path.name[:12]}) into its base for full training")
    return PeftModel.from_pretrained(model, adapter_path).merge_and_unload()


def _with_adapter(model: Any, adapter_path: Path | None, settings: TrainSettings, notes: list[str]) -> Any:
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training

    if settings.adapter == "qlora":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=settings.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif settings.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if adapter_path is not None:
        notes.append("continuing to train the parent version's adapter (its rank and targets are kept)")
        return PeftModel.from_pretrained(model, adapter_path, is_trainable=True)
    config = LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.target_modules,
        use_dora=settings.adapter == "dora",
        task_type="CAUSAL_LM",
        bias="none",
    )
    return get_peft_model(model, config)


def supports_label_logits(model: Any) -> bool:
    """Whether the model's forward takes ``logits_to_keep`` (transformers 4.50+ causal LMs), which
    lets the loop compute logits at label positions only."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def generation_eos_from_files(*directories: Path | None) -> list[int]:
    """EOS ids of generation, read from the first directory's ``generation_config.json`` (a parent
    version's, then the base's), else from the base's ``config.json``."""
    import json

    present = [d for d in directories if d is not None]
    for name in ("generation_config.json", "config.json"):
        for directory in present:
            path = directory / name
            if path.is_file():
                eos = json.loads(path.read_text()).get("eos_token_id")
                if eos is not None:
                    return [int(e) for e in eos] if isinstance(eos, list) else [int(eos)]
    return []


def save_trained(
    model: Any, tokenizer: Any, directory: Path, *, kind: str, eos_ids: list[int], state_dict: Any = None
) -> None:
    """Write the adapter (or full weights) with the tokenizer and a generation config whose EOS
    includes the end-of-turn token, so the result stops where it was trained to stop."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True, state_dict=state_dict)
    tokenizer.save_pretrained(directory)
    base = model.get_base_model() if kind == "adapter" else model
    generation = getattr(base, "generation_config", None)
    if generation is not None and eos_ids:
        generation = generation.__class__.from_dict(generation.to_dict())
        generation.eos_token_id = eos_ids[0] if len(eos_ids) == 1 else eos_ids
        generation.save_pretrained(directory)
