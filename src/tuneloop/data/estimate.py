"""Cost and time of training on a dataset: tokens x epochs, a measured CPU probe, stated GPU assumptions.

Compute per token comes from the one cost model, :mod:`tuneloop.models.cost` (6·N FLOPs for full
fine-tuning, 4·N for the LoRA family, N the base model's parameters). GPU time = FLOPs / (peak bf16 dense FLOP/s x MFU), with the peaks
from the vendors' datasheets and an MFU (model FLOPs utilisation) of 35%, typical of well-tuned
fine-tuning at moderate sequence lengths. The CPU estimate is measured, not assumed: a few
forward+backward steps of the actual base model on this machine (``--estimate-time``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneloop.models import count_parameters, training_flops_per_token

__all__ = ["count_parameters", "estimate_training", "measure_cpu_throughput"]


@dataclass(frozen=True)
class GpuAssumption:
    name: str
    peak_bf16_tflops: float
    source: str


GPU_ASSUMPTIONS = [
    GpuAssumption("H100 SXM", 989.0, "NVIDIA H100 datasheet, dense BF16"),
    GpuAssumption("A100 80GB", 312.0, "NVIDIA A100 datasheet, dense BF16"),
    GpuAssumption("L4", 121.0, "NVIDIA L4 datasheet, dense BF16"),
    GpuAssumption(
        "A10G", 125.0, "NVIDIA A10 datasheet, dense BF16; AWS's A10G runs at lower clocks, so an upper bound"
    ),
]
MFU = 0.35


def estimate_training(
    *,
    processed_tokens: int,
    loss_tokens: int,
    epochs: float,
    adapter: str,
    num_parameters: int | None,
    cpu_tokens_per_second: float | None = None,
) -> dict[str, Any]:
    """Tokens, FLOPs and wall-time estimates for ``epochs`` over the dataset."""
    tokens = processed_tokens * epochs
    factor = training_flops_per_token(1, adapter=adapter)
    result: dict[str, Any] = {
        "epochs": epochs,
        "processed_tokens_per_epoch": processed_tokens,
        "loss_tokens_per_epoch": loss_tokens,
        "trained_tokens": tokens,
        "adapter": adapter,
        "assumptions": f"{factor:g}·N FLOPs per token ({'full fine-tuning' if factor == 6 else 'LoRA-family'}); "
        f"GPU time at {MFU:.0%} MFU of the dense BF16 peak",
    }
    if num_parameters:
        flops = factor * num_parameters * tokens
        result["num_parameters"] = num_parameters
        result["flops"] = flops
        result["gpus"] = [
            {
                "gpu": g.name,
                "peak_bf16_tflops": g.peak_bf16_tflops,
                "seconds": flops / (g.peak_bf16_tflops * 1e12 * MFU),
                "source": g.source,
            }
            for g in GPU_ASSUMPTIONS
        ]
    if cpu_tokens_per_second:
        # the probe runs a full backward pass; LoRA's is cheaper by the FLOP ratio above
        speedup = 6.0 / factor
        result["cpu_tokens_per_second"] = cpu_tokens_per_second
        result["cpu_seconds"] = tokens / (cpu_tokens_per_second * speedup)
    return result


def measure_cpu_throughput(
    model_dir: Path, *, sequence_length: int, batch_size: int = 2, steps: int = 3
) -> float:
    """Tokens per second of forward+backward on this machine (one warm-up step, then ``steps`` timed)."""
    import torch
    from transformers import AutoModelForCausalLM

    from tuneloop.models import autocast_context

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.train()
    generator = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    batch = torch.randint(0, vocab, (batch_size, sequence_length), generator=generator)
    elapsed = 0.0
    for step in range(steps + 1):
        begin = time.perf_counter()
        with autocast_context("cpu"):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        if step:
            elapsed += time.perf_counter() - begin
    return batch_size * sequence_length * steps / elapsed
