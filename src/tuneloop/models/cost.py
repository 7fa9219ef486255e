"""The one cost model of training: parameter counts and FLOPs per token.

Used by the data stage's training estimate (``data check``) and by the training pre-flight alike,
so the two never disagree. Per processed token, with N the base model's parameters: forward 2·N;
backward 2·N for activation gradients plus 2·N for weight gradients when every weight trains (full
fine-tuning: 6·N), about nothing extra for adapters (LoRA family: 4·N); gradient checkpointing adds a
second forward (+2·N).
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

ADAPTER_KINDS = ("lora", "qlora", "dora")


def _safetensors_shapes(model_dir: Path) -> dict[str, list[int]]:
    """Tensor name -> shape for every ``*.safetensors`` file, from the headers (no weights loaded)."""
    shapes: dict[str, list[int]] = {}
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with path.open("rb") as handle:
            size = struct.unpack("<Q", handle.read(8))[0]
            header = json.loads(handle.read(size))
        shapes.update({name: entry["shape"] for name, entry in header.items() if name != "__metadata__"})
    return shapes


def count_parameters(model_dir: Path) -> int:
    """Parameters stored in a model directory (0 when it holds no safetensors file)."""
    total = 0
    for shape in _safetensors_shapes(model_dir).values():
        count = 1
        for dim in shape:
            count *= dim
        total += count
    return total


def adapter_parameters(model_dir: Path, targets: list[str] | str, rank: int) -> int:
    """LoRA parameters, ``r x (in + out)`` per adapted linear weight (embeddings and head excluded)."""
    total = 0
    for name, shape in _safetensors_shapes(model_dir).items():
        module = name.removesuffix(".weight").rsplit(".", 1)[-1]
        if len(shape) != 2 or not name.endswith(".weight") or "embed" in name or "lm_head" in name:
            continue
        if targets == "all-linear" or module in targets:
            total += rank * (shape[0] + shape[1])
    return total


def training_flops_per_token(parameters: int, *, adapter: str, checkpointing: bool = False) -> float:
    """FLOPs of one training token (see the module docstring)."""
    flops = 4 * parameters + (2 * parameters if adapter not in ADAPTER_KINDS else 0)
    return float(flops + (2 * parameters if checkpointing else 0))


def measure_matmul_flops(dtype_name: str = "float32", seconds: float = 0.3, size: int = 1024) -> float:
    """Achieved FLOP/s of a square matmul on this machine (the best of repeated runs)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        begin = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - begin)
    return 2 * size**3 / best
