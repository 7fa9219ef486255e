"""``tuneloop export``: write a model version as files other tools load without tuneloop.

- ``--adapter``: the PEFT adapter (``adapter_model.safetensors`` + ``adapter_config.json``) and the
  tokenizer; loadable by ``PeftModel.from_pretrained`` and by vLLM's LoRA support
  (``--enable-lora --lora-modules name=DIR``).
- ``--merged``: the adapter merged into full-precision base weights (``merge_and_unload``), saved as
  safetensors with config, tokenizer and generation config; loadable by plain transformers (and vLLM).
  A QLoRA adapter is merged into the unquantised base, the usual practice; outputs differ slightly
  from the 4-bit model it was trained on.

The directory is written beside its destination and renamed into place when complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneloop.errors import InvalidInput, Location
from tuneloop.project import Project

MANIFEST = "tuneloop-export.json"


@dataclass
class ExportResult:
    reference: str
    output: Path
    mode: str
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "output": str(self.output),
            "mode": self.mode,
            "files": self.files,
        }


def export_model(
    project: Project | None,
    reference: str,
    output: Path,
    *,
    merged: bool,
    dtype: str = "auto",
    overwrite: bool = False,
) -> ExportResult:
    """Export ``reference`` (``name:3``, ``name@alias`` ...) to ``output``."""
    from tuneloop.models import resolve_model

    resolved = resolve_model(reference, project)
    output = output.resolve()
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise InvalidInput(
            "output_exists",
            f"{output} exists and is not empty; choose another directory or pass --overwrite",
            Location(str(output)),
        )
    if not merged and resolved.adapter_path is None:
        raise InvalidInput(
            "not_an_adapter",
            f"'{reference}' holds full weights, not an adapter; export it with --merged",
            Location(field="--adapter"),
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp"))
    try:
        if not merged:
            _copy_adapter(resolved, staging)
        elif resolved.adapter_path is None:
            shutil.copytree(resolved.base_path, staging, dirs_exist_ok=True)
        else:
            _merge(resolved, staging, dtype)
        manifest = {
            "reference": reference,
            "mode": "merged" if merged else "adapter",
            "base": resolved.reference,
            "base_weights_sha256": resolved.base_weights_sha256,
            "lineage": resolved.lineage,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        if output.exists():
            shutil.rmtree(output)
        staging.replace(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(
        reference, output, "merged" if merged else "adapter", sorted(p.name for p in output.iterdir())
    )


def _copy_adapter(resolved: Any, staging: Path) -> None:
    shutil.copytree(resolved.adapter_path, staging, dirs_exist_ok=True)
    config_path = staging / "adapter_config.json"
    config = json.loads(config_path.read_text())
    hub_id = _hub_id(resolved)
    # The adapter was trained on a local copy; name the base the way other tools will look it up.
    config["base_model_name_or_path"] = hub_id or str(resolved.base_path)
    config_path.write_text(json.dumps(config, indent=2))


def _hub_id(resolved: Any) -> str | None:
    if not resolved.catalog_id:
        return None
    from tuneloop.models import get_entry

    return get_entry(resolved.catalog_id).hf_repo


def _merge(resolved: Any, staging: Path, dtype: str) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneloop.models import quiet_transformers, resolve_dtype

    quiet_transformers()
    torch_dtype = "auto" if dtype == "auto" else resolve_dtype(dtype, "cpu")
    base = AutoModelForCausalLM.from_pretrained(resolved.base_path, dtype=torch_dtype)
    model = PeftModel.from_pretrained(base, resolved.adapter_path).merge_and_unload()
    model.save_pretrained(staging, safe_serialization=True)
    adapter = resolved.adapter_path
    tokenizer_dir = adapter if (adapter / "tokenizer_config.json").is_file() else resolved.base_path
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(staging)
    generation = adapter / "generation_config.json"
    if generation.is_file():
        shutil.copyfile(generation, staging / "generation_config.json")
