"""Load a resolved model and its tokenizer for inference or training."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.models.resolve import ResolvedModel

if TYPE_CHECKING:
    import torch


def cpu_supports_fast_bf16() -> bool:
    """True when the CPU has AMX or AVX512-BF16, where bf16 matmuls beat fp32 several times."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def resolve_dtype(name: str, device: str) -> torch.dtype:
    """Map a config dtype name to a torch dtype; ``auto`` keeps fp32 weights on CPU.

    On CPU the weights stay fp32 and speed comes from bf16 autocast where the CPU supports it
    (see :func:`autocast_context`), which keeps optimizer updates and adapters in full precision.
    """
    import torch

    if name == "auto":
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def autocast_context(device: str, enabled: bool | None = None) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CPUs with AMX/AVX512-BF16 (or on GPUs), a no-op context elsewhere."""
    import torch

    if enabled is None:
        enabled = device == "cuda" or cpu_supports_fast_bf16()
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device, dtype=torch.bfloat16)


@dataclass
class LoadedModel:
    """A model ready to run, with the tokenizer whose chat template renders its prompts."""

    model: Any
    """A transformers causal LM, or a PEFT model wrapping one (transformers' classes are not typed
    precisely enough to name one type for both)."""
    tokenizer: Any
    """A transformers tokenizer (slow or fast; no common typed base)."""
    resolved: ResolvedModel
    device: str


def quiet_transformers() -> None:
    """Silence third-party progress bars and info logs where models and data load: tuneloop reports
    through its own :class:`~tuneloop.progress.Progress`, and a foreign tqdm bar in the middle of a
    verb's output is noise (or garbage in a log).

    Covers transformers ("Loading checkpoint shards", with huggingface_hub's download bars), datasets
    ("Map", "Generating train split"; through its environment variable while it is not imported yet)
    and sentence-transformers ("Batches": shown by default only when its logger is at INFO), and
    bitsandbytes' import-time warnings. Call it before importing those libraries. The GGUF
    reader's bar ignores all of these; the bundled model's conversion replaces it with a task of its
    own (:mod:`tuneloop.models.bundled`). A variable the user set explicitly is left alone.
    """
    import logging
    import os
    import sys

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # also huggingface_hub's bars
    hf_logging.set_verbosity_error()
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if "datasets" in sys.modules and os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1":
        sys.modules["datasets"].disable_progress_bars()
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    # bitsandbytes (imported by sentence-transformers and PEFT) warns on import about an optional
    # CPU kernel package on AVX512-BF16 machines; nothing a tuneloop user can or need act on.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    # PEFT still calls transformers' deprecated ``is_gradient_checkpointing``; the warning is not the user's.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def apply_thread_override() -> None:
    """Size torch's CPU thread pool to ``TUNELOOP_THREADS`` if it is set (else torch's default)."""
    from tuneloop.machine import threads_override

    threads = threads_override()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def load_tokenizer(model_dir: Path, chat_template: str | None = None) -> Any:
    """The model's tokenizer with a pad token (the EOS if it has none) and left padding for batching."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if chat_template:
        tokenizer.chat_template = chat_template
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    resolved: ResolvedModel,
    *,
    dtype: str = "auto",
    device: str | None = None,
    chat_template: str | None = None,
) -> LoadedModel:
    """Load base weights (and the adapter of a fine-tuned version) in eval mode.

    ``TUNELOOP_THREADS``, when set, sizes torch's CPU thread pool for what runs on the model
    (evaluation, red-teaming, chat), as it does for training.
    """
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    apply_thread_override()
    device = device or pick_device()
    # transformers' and PEFT's model classes differ; both are used only through their shared methods.
    model: Any = AutoModelForCausalLM.from_pretrained(resolved.base_path, dtype=resolve_dtype(dtype, device))
    if resolved.adapter_path is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, resolved.adapter_path)
    model.to(device)
    model.eval()
    # A fine-tuned version carries the tokenizer it was trained with (its chat template may differ).
    adapter = resolved.adapter_path
    tokenizer_dir = (
        adapter if adapter and (adapter / "tokenizer_config.json").is_file() else resolved.base_path
    )
    tokenizer = load_tokenizer(tokenizer_dir, chat_template)
    return LoadedModel(model=model, tokenizer=tokenizer, resolved=resolved, device=device)
