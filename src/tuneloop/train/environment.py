"""The environment lock stored with every run: versions, hardware and the launch topology."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

KEY_PACKAGES = (
    "tuneloop",
    "torch",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "bitsandbytes",
    "datasets",
    "tokenizers",
    "safetensors",
    "deepspeed",
    "flash-attn",
)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_lock(state: Any = None) -> dict[str, Any]:
    """Versions of tuneloop and its training libraries, every installed distribution, the Python
    and OS, the CPU/GPU, and the number of processes: enough to rebuild the environment."""
    import torch

    packages = sorted(
        {
            (d.metadata["Name"] or "").lower(): d.version
            for d in metadata.distributions()
            if d.metadata["Name"]
        }.items()
    )
    hardware: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "cpu_model": _cpu_model()}
    if torch.cuda.is_available():
        hardware["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        hardware["cuda"] = torch.version.cuda
    lock: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": {name: _version(name) for name in KEY_PACKAGES if _version(name)},
        "hardware": hardware,
        "packages": dict(packages),
    }
    if state is not None:  # accelerate's PartialState or Accelerator
        lock["distributed"] = {
            "type": str(state.distributed_type).split(".")[-1],
            "num_processes": state.num_processes,
            "backend": getattr(state, "backend", None),
        }
    return lock


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None
