"""Benchmark: the serving engine's dynamic batching against one request at a time, and against
transformers' own continuous batching (``generate_batch``), on the bundled model with a LoRA adapter.

Run: ``.venv/bin/python benchmarks/engine_batching.py [--requests 16] [--tokens 32] [--fp32]
[--no-adapter] [--skip-continuous] [--cb-timeout 300]``

All three generate greedily ``--tokens`` new tokens for each of ``--requests`` different short chat
prompts, on the same weights (the bundled SmolLM2-135M-Instruct, plus a random LoRA adapter on
q_proj/v_proj unless ``--no-adapter``), in one process, with torch's default thread count
(``TUNELOOP_THREADS`` is honoured if set), with bf16 autocast where the CPU is fast at it (as the
engine serves) or in fp32 with ``--fp32`` (where batched greedy answers equal one-at-a-time answers):

1. one at a time: the engine with ``max_batch_size=1`` (each request waits for the previous one);
2. dynamic batching: the engine with ``max_batch_size=--requests``, all requests sent at once;
3. continuous batching: ``model.generate_batch(...)`` on the same PEFT model (a warm-up call first,
   not timed), transformers' paged-attention scheduler that ``transformers serve`` is built on.

It prints tokens/s of each, the ratios, and whether the greedy answers agree (batched vs alone, and
continuous batching vs the engine), then one JSON line with the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QUESTIONS = [
    "How do I reset my password?",
    "Where is my parcel?",
    "My card was charged twice, what now?",
    "Can I change my delivery address?",
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain what a refund is in one sentence.",
    "How long does shipping to Spain take?",
    "Please close my account.",
    "The app crashes when I log in.",
    "What does VAT mean on my invoice?",
    "Suggest a name for a cat.",
    "Is it going to rain tomorrow?",
    "How many days are in a leap year?",
    "Translate 'good morning' into French.",
    "What is two plus two?",
]


def make_adapter(base_dir: Path, directory: Path) -> Path:
    """A random (non-zero) LoRA adapter: the cost of adapter layers, not a trained answer."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(directory)
    return directory


def target_for(base_dir: Path, adapter: Path | None) -> Any:
    from tuneloop.models import resolve_model
    from tuneloop.serve.backend import Target

    base = resolve_model(str(base_dir))
    return Target(
        requested="bench",
        reference="bench:1" if adapter else base.reference,
        name="bench",
        version=1 if adapter else None,
        version_id=None,
        base_path=base.base_path,
        base_weights_sha256=base.base_weights_sha256,
        adapter_path=adapter,
        merged_weights=False,
        identity=("adapter-" if adapter else "base-") + base.base_weights_sha256[:12],
    )


async def through_engine(
    pool: Any, target: Any, tokens: int, batch: int, requests: int, autocast: bool | None
) -> tuple[float, list]:
    from tuneloop.serve.backend import Prompt, Sampling
    from tuneloop.serve.engine import LocalEngine

    engine = LocalEngine(
        max_queue=requests, max_batch_size=batch, batch_wait_ms=10, pool=pool, autocast=autocast
    )
    await engine.start()
    sampling = Sampling(max_tokens=tokens, temperature=0)
    prompts = [Prompt(messages=({"role": "user", "content": q},)) for q in QUESTIONS[:requests]]
    try:
        started = time.perf_counter()
        answers = await asyncio.gather(*(engine.generate(target, p, sampling) for p in prompts))
        return time.perf_counter() - started, answers
    finally:
        await engine.stop(drain_timeout_s=0)


def continuous_batching(
    pool: Any, target: Any, tokens: int, requests: int, autocast: bool | None
) -> tuple[float, list[list[int]]]:
    """transformers' ``generate_batch`` on the pool's (PEFT) model; a warm-up call first."""
    import torch
    from transformers import GenerationConfig

    from tuneloop.evaluate.decoding import end_token_ids
    from tuneloop.models import autocast_context, render_chat

    pooled = pool.get(target)
    tokenizer = pooled.loaded.tokenizer
    messages = [[{"role": "user", "content": q}] for q in QUESTIONS[:requests]]
    inputs = [
        tokenizer(render_chat(tokenizer, m, ending="open"), add_special_tokens=False)["input_ids"]
        for m in messages
    ]
    config = GenerationConfig(
        max_new_tokens=tokens,
        do_sample=False,
        eos_token_id=end_token_ids(pooled.loaded),
        pad_token_id=tokenizer.pad_token_id,
    )
    device = pooled.loaded.device
    with (
        pooled.active() as model,
        torch.inference_mode(),
        autocast_context(device, autocast),
    ):  # as the engine
        model.generate_batch(inputs=inputs[:2], generation_config=config, max_new_tokens=4)
        started = time.perf_counter()
        outputs = model.generate_batch(inputs=inputs, generation_config=config, max_new_tokens=tokens)
        seconds = time.perf_counter() - started
    ordered = sorted(outputs.values(), key=lambda o: int(str(o.request_id).rsplit("_", 1)[-1]))
    return seconds, [list(o.generated_tokens) for o in ordered]


def measure_continuous(
    pool: Any, target: Any, args: argparse.Namespace, autocast: bool | None, engine_texts: list[str]
) -> dict[str, Any]:
    """Continuous batching in a daemon thread, given up after ``--cb-timeout`` seconds."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = continuous_batching(pool, target, args.tokens, args.requests, autocast)
        except Exception as exc:  # report what happened instead of a number
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(args.cb_timeout)
    if worker.is_alive():
        return {"continuous_batching_error": f"no result within {args.cb_timeout:.0f}s"}
    if "error" in outcome:
        return {"continuous_batching_error": outcome["error"]}
    seconds, tokens = outcome["result"]
    tokenizer = pool.get(target).loaded.tokenizer
    texts = [tokenizer.decode(t, skip_special_tokens=True) for t in tokens]
    return {
        "continuous_batching_tok_s": sum(len(t) for t in tokens) / seconds,
        "continuous_equals_engine": texts == engine_texts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--no-adapter", action="store_true")
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast (exact batched = alone)")
    parser.add_argument("--skip-continuous", action="store_true")
    parser.add_argument("--cb-timeout", type=float, default=300.0)
    args = parser.parse_args()

    import torch

    from tuneloop.models import bundled_model_dir, cpu_supports_fast_bf16
    from tuneloop.serve.model_pool import ModelPool

    autocast = False if args.fp32 else None
    base_dir = bundled_model_dir()
    with tempfile.TemporaryDirectory() as scratch:
        adapter = None if args.no_adapter else make_adapter(base_dir, Path(scratch) / "adapter")
        target = target_for(base_dir, adapter)
        pool = ModelPool()
        pool.get(target)  # load once, outside the timings
        bf16 = cpu_supports_fast_bf16() and not args.fp32
        print(f"threads {torch.get_num_threads()}, bf16 autocast {bf16}, adapter {bool(adapter)}", flush=True)
        single_s, single = asyncio.run(through_engine(pool, target, args.tokens, 1, args.requests, autocast))
        print(f"one at a time: {single_s:.1f}s", flush=True)
        batched_s, batched = asyncio.run(
            through_engine(pool, target, args.tokens, args.requests, args.requests, autocast)
        )
        print(f"dynamic batching: {batched_s:.1f}s", flush=True)
        texts = [a.choices[0].text for a in batched]
        results: dict[str, Any] = {
            "requests": args.requests,
            "new_tokens": args.tokens,
            "adapter": bool(adapter),
            "bf16_autocast": bf16,
            "one_at_a_time_tok_s": sum(a.completion_tokens for a in single) / single_s,
            "dynamic_batching_tok_s": sum(a.completion_tokens for a in batched) / batched_s,
            "batched_equals_alone": texts == [a.choices[0].text for a in single],
        }
        results["dynamic_vs_one_at_a_time"] = (
            results["dynamic_batching_tok_s"] / results["one_at_a_time_tok_s"]
        )
        if not args.skip_continuous:
            results |= measure_continuous(pool, target, args, autocast, texts)
    for key, value in results.items():
        print(f"{key:28} {value:.2f}" if isinstance(value, float) else f"{key:28} {value}")
    print(json.dumps(results), flush=True)
    os._exit(0)  # a continuous-batching thread that never finished must not keep the process alive


if __name__ == "__main__":
    main()
