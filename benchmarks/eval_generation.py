"""Tokens per second of tuneloop's batched evaluation path against a per-item ``generate`` loop.

Run: ``HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python benchmarks/eval_generation.py [--items 48] [--batch-size 48] [--threads 1]``

Both sides answer the same prompts (the support example's holdout with its system prompt) with the
bundled SmolLM2-135M-Instruct, greedy, the same ``max_new_tokens``, and bf16 autocast where the CPU
has AMX. The anchor is what an evaluation script usually does: one ``model.generate`` call per item.
tuneloop's path sorts prompts by length, computes their shared head (template and system prompt) once
per batch, pads them into batches and decodes them together with the KV cache (the disk cache is off
here, so nothing is skipped). The two sides run interleaved, chunk by chunk, so both see the same load
on a shared machine; tokens per wall second and per CPU second of this process are both printed, then
the ratios (target >= 4x).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = ROOT / "examples" / "support" / "holdout.jsonl"
SYSTEM = (
    "You are the support assistant of Acme Cloud. Read the customer's ticket and answer with exactly one JSON "
    'object and nothing else: {"category": "...", "priority": "low|medium|high", "reply": "..."}.'
)


def prompts(count: int) -> list[list[dict[str, str]]]:
    rows = [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [row["messages"][0]["content"] for row in rows]
    while len(questions) < count:
        questions += questions
    return [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}] for q in questions[:count]
    ]


@dataclass
class Tally:
    """Tokens produced, wall seconds and CPU seconds of this process (robust to other processes)."""

    tokens: int = 0
    wall: float = 0.0
    cpu: float = 0.0

    def add(self, tokens: int, wall: float, cpu: float) -> None:
        self.tokens, self.wall, self.cpu = self.tokens + tokens, self.wall + wall, self.cpu + cpu

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.tokens:6d} tokens, {self.wall:7.1f} s wall = {self.tokens / self.wall:7.1f} tokens/s, "
            f"{self.cpu:7.1f} s CPU = {self.tokens / self.cpu:7.1f} tokens/CPU-s"
        )


def timed(function, *args) -> tuple[int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = function(*args)
    return tokens, time.perf_counter() - wall, time.process_time() - cpu


def per_item_loop(loaded, conversations, max_new_tokens: int) -> int:
    """The anchor: one generate call per item (same dtype, autocast and greedy settings)."""
    import torch

    from tuneloop.models import autocast_context

    tokenizer, tokens = loaded.tokenizer, 0
    for conversation in conversations:
        inputs = tokenizer.apply_chat_template(
            conversation, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode(), autocast_context(loaded.device):
            output = loaded.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = output[0, inputs["input_ids"].shape[1] :].tolist()
        end = tokenizer.eos_token_id
        tokens += new.index(end) if end in new else len(new)
    return tokens


def batched(loaded, conversations, max_new_tokens: int, batch_size: int) -> int:
    from tuneloop.evaluate import GenerationSettings, generate_batch

    settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size)
    generations = generate_batch(loaded, conversations, settings, cache=None)
    return sum(g.completion_tokens for g in generations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()

    import torch

    if args.threads:
        # On a shared, oversubscribed CPU, OpenMP threads spin-wait on each other; one thread is faster.
        torch.set_num_threads(args.threads)

    from tuneloop.models import cpu_supports_fast_bf16, load_model, resolve_model

    loaded = load_model(resolve_model("base:smollm2-135m-instruct"))
    conversations = prompts(args.items)
    print(
        f"model: SmolLM2-135M-Instruct, {args.items} items, max_new_tokens {args.max_new_tokens}, "
        f"torch threads {torch.get_num_threads()}, bf16 autocast {'on' if cpu_supports_fast_bf16() else 'off'}"
    )
    batched(loaded, conversations[:2], 4, 2)  # warm-up: first-call allocations, kernels
    anchor, ours = Tally(), Tally()
    # Interleaved chunk by chunk, so both sides see the same load on a shared machine.
    for start in range(0, len(conversations), args.batch_size):
        chunk = conversations[start : start + args.batch_size]
        anchor.add(*timed(per_item_loop, loaded, chunk, args.max_new_tokens))
        ours.add(*timed(batched, loaded, chunk, args.max_new_tokens, args.batch_size))
        print(f"  {start + len(chunk)}/{len(conversations)} items", flush=True)
    print(anchor.line("per-item generate loop  "))
    print(ours.line(f"tuneloop batched (b={args.batch_size:<3d})"))
    wall_ratio = (ours.tokens / ours.wall) / (anchor.tokens / anchor.wall)
    cpu_ratio = (ours.tokens / ours.cpu) / (anchor.tokens / anchor.cpu)
    print(f"speed-up: {wall_ratio:.2f}x wall, {cpu_ratio:.2f}x per CPU-second (target >= 4x)")


if __name__ == "__main__":
    main()
