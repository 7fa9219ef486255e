"""Training throughput and quality: tuneloop against a plain TRL ``SFTTrainer`` with TRL's defaults.

Run (bundled model, offline; about 15 minutes on an idle 2-core CPU, 25+ on a busy one)::

    HF_HUB_OFFLINE=1 TUNELOOP_MODEL_CACHE=/work/cache/models nice -n 10 \\
        .venv/bin/python benchmarks/train_throughput.py [--examples 16] [--trl-default-seconds 240]

Both sides train SmolLM2-135M-Instruct with LoRA r=16 (alpha 32) on all linear layers, on the same
conversations of ``examples/support`` (the project's system prompt added to each), for the same
number of epochs, in this one process:

1. **tuneloop** with its own defaults (assistant-only loss, logits only at label positions,
   length-grouped padding-free batches, derived learning rate and step budget, bf16 only where the
   hardware runs it natively).
2. **TRL, defaults**: ``SFTConfig`` defaults (batch 8, gradient checkpointing on, bf16 autocast on,
   learning rate 2e-5, loss on the whole conversation, full-vocabulary entropy and accuracy metrics)
   with ``max_length=256``. On a CPU without native bf16 this run is stopped after
   ``--trl-default-seconds`` and only its throughput is reported.
3. **TRL, defaults but bf16 off**: the same with ``bf16=False``, trained to the end, so throughput
   and quality are compared against TRL's best case on this machine as well.

Printed: processed tokens/s (every non-padding token run through the model: the like-for-like
measure, since both see the same data) and trained tokens/s (tokens that carry loss: tuneloop's
assistant tokens; TRL's whole sequence), both per wall-clock second and per CPU-second (steadier
when other processes share the machine); the ratios; the holdout loss on assistant tokens (same
function for every model); a task metric from greedy answers to holdout prompts (JSON-valid rate,
category and priority accuracy); and model-FLOPs utilisation against the fp32 and bf16 matmul peaks
measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "support"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_data(args: argparse.Namespace) -> tuple[Any, list[Any], list[Any], str]:
    from tuneloop.data import load_records
    from tuneloop.project import Project

    project_dir = Path(tempfile.mkdtemp(prefix="tl-bench-")) / "support"
    shutil.copytree(EXAMPLE, project_dir, ignore=shutil.ignore_patterns(".tuneloop", "evals"))
    config = (project_dir / "tuneloop.yaml").read_text()
    config = config.replace("  suites: [evals/support.yaml]", "  suites: []").replace(
        "  forgetting_check: true", "  forgetting_check: false"
    )
    (project_dir / "tuneloop.yaml").write_text(
        config + f"\ntrain:\n  epochs: {args.epochs}\n  eval_after_train: false\n"
    )
    project = Project.open(project_dir)
    train = load_records([project_dir / "train.jsonl"])[: args.examples]
    holdout = load_records([project_dir / "holdout.jsonl"])[: args.holdout]
    return project, train, holdout, project.config.project.system_prompt or ""


def with_system(record: Any, system: str) -> list[dict[str, str]]:
    messages = [{"role": m.role, "content": m.content} for m in record.messages]
    return messages if messages[0]["role"] == "system" else [{"role": "system", "content": system}, *messages]


def run_tuneloop(project: Any, train_records: list[Any]) -> dict[str, Any]:
    from tuneloop.console import RichProgress
    from tuneloop.train import get_run, train

    began_cpu, began = cpu_seconds(), time.perf_counter()
    result = train(project, records=train_records, holdout_records=[], no_eval=True, progress=RichProgress())
    wall = time.perf_counter() - began
    run = get_run(project, result.run_name)
    summary = run.summary
    return {
        "name": "tuneloop (defaults)",
        "model": result.model_version,
        "steps": summary["steps"],
        "seconds": summary["train_seconds"],
        "cpu_seconds": summary["cpu_seconds"],
        "tokens": summary["tokens"],
        "loss_tokens": summary["loss_tokens"],
        "wall_including_setup": wall,
        "cpu_including_setup": cpu_seconds() - began_cpu,
        "settings": {
            k: run.config["settings"][k]
            for k in ("learning_rate", "tokens_per_step", "micro_batch_tokens", "bf16", "loss_masking")
        },
        "finished": True,
        "bound": False,
    }


class TokenCounter:
    """Wraps TRL's collator: counts the tokens of each batch, credited when its step ends."""

    def __init__(self, collator: Any, events: Any = None) -> None:
        self.collator = collator
        self.events = events
        self.pending: list[tuple[int, int]] = []

    def __call__(self, examples: list[Any]) -> Any:
        batch = self.collator(examples)
        mask = batch.get("attention_mask")
        tokens = int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        counts = (tokens, int((batch["labels"][:, 1:] != -100).sum()))
        self.pending.append(counts)
        if self.events is not None:
            self.events.put(("batch", *counts))
        return batch


def make_timer(counter: TokenCounter, events: Any = None) -> Any:
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds = self.cpu = 0.0
            self.tokens = self.loss_tokens = self.steps = 0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._began, self._cpu = time.perf_counter(), cpu_seconds()
            if events is not None:
                events.put(("begin", time.time()))

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            seconds, cpu = time.perf_counter() - self._began, cpu_seconds() - self._cpu
            tokens, loss_tokens = counter.pending.pop(0)
            self.seconds += seconds
            self.cpu += cpu
            self.tokens += tokens
            self.loss_tokens += loss_tokens
            self.steps += 1
            if events is not None:
                events.put(("step", tokens, loss_tokens, seconds, cpu))
            print(f"  TRL step {self.steps}: {tokens / max(1e-9, seconds):,.1f} tokens/s", flush=True)

    return Timer()


def run_trl(
    base_dir: Path,
    conversations: list[list[dict[str, str]]],
    *,
    bf16: bool,
    epochs: float,
    out: Path,
    events: Any = None,
) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    dataset = Dataset.from_list([{"messages": messages} for messages in conversations])
    config = SFTConfig(
        output_dir=str(out),
        max_length=256,
        per_device_train_batch_size=8,
        num_train_epochs=epochs,
        bf16=bf16,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
    )
    lora = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=lora
    )
    counter = TokenCounter(trainer.data_collator, events)
    trainer.data_collator = counter
    timer = make_timer(counter, events)
    trainer.add_callback(timer)
    trainer.train()
    trainer.model.save_pretrained(out / "adapter")
    return {
        "name": f"TRL defaults{'' if bf16 else ', bf16 off'}",
        "adapter": out / "adapter",
        "steps": timer.steps,
        "seconds": timer.seconds,
        "cpu_seconds": timer.cpu,
        "tokens": timer.tokens,
        "loss_tokens": timer.loss_tokens,
        "settings": {
            "learning_rate": config.learning_rate,
            "gradient_checkpointing": config.gradient_checkpointing,
            "bf16": config.bf16,
            "batch": 8,
            "max_length": 256,
        },
        "finished": True,
        "bound": False,
    }


def _trl_child(
    base_dir: str, conversations: list[Any], bf16: bool, epochs: float, out: str, events: Any
) -> None:
    run_trl(Path(base_dir), conversations, bf16=bf16, epochs=epochs, out=Path(out), events=events)
    events.put(("done",))


def run_trl_bounded(
    base_dir: Path, conversations: list[Any], *, epochs: float, seconds: float, out: Path
) -> dict[str, Any]:
    """TRL with its defaults (bf16 on) in a child process, stopped after ``seconds``.

    Emulated bf16 can make one step of 8 conversations take many minutes, longer than any sensible
    bound, so when no step has finished the first batch's tokens over the time it has run so far give
    an upper bound of the throughput (reported as such)."""
    import multiprocessing
    import queue

    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    child = context.Process(
        target=_trl_child, args=(str(base_dir), conversations, True, epochs, str(out), events)
    )
    child.start()
    steps: list[tuple[int, int, float, float]] = []
    first_batch: tuple[int, int] | None = None
    step_began: float | None = None
    deadline: float | None = None
    done = False
    while not done:
        now = time.time()
        if deadline is not None and now > deadline:
            break
        try:
            event = events.get(timeout=1.0)
        except queue.Empty:
            if not child.is_alive():
                break
            continue
        if event[0] == "batch" and first_batch is None:
            first_batch = (event[1], event[2])
        elif event[0] == "begin":
            step_began = event[1]
            deadline = deadline or step_began + seconds  # the bound starts with training, not loading
        elif event[0] == "step":
            steps.append(event[1:])
        done = event[0] == "done"
    if child.is_alive():
        child.terminate()
        child.join()
    result = {
        "name": "TRL defaults",
        "adapter": out / "adapter",
        "settings": {
            "learning_rate": 2e-5,
            "gradient_checkpointing": True,
            "bf16": True,
            "batch": 8,
            "max_length": 256,
        },
        "finished": done,
        "steps": len(steps),
    }
    if steps:
        result |= {
            "tokens": sum(s[0] for s in steps),
            "loss_tokens": sum(s[1] for s in steps),
            "seconds": sum(s[2] for s in steps),
            "cpu_seconds": sum(s[3] for s in steps),
            "bound": False,
        }
    else:  # not even one step within the bound: its throughput is at most the first batch / time so far
        elapsed = time.time() - (step_began or time.time())
        tokens, loss_tokens = first_batch or (0, 0)
        result |= {
            "tokens": tokens,
            "loss_tokens": loss_tokens,
            "seconds": elapsed,
            "cpu_seconds": elapsed,
            "bound": True,
        }
    return result


def holdout_loss(loaded: Any, holdout: list[Any], system: str) -> float:
    """Mean loss per assistant token on the holdout (the same function for every model)."""
    import torch

    from tuneloop.train.batching import collate
    from tuneloop.train.objectives import label_log_probs
    from tuneloop.train.tokenize import build_items

    items = build_items(
        holdout,
        loaded.tokenizer,
        method="sft",
        max_length=1024,
        masking="assistant_only",
        system_prompt=system,
    )
    total = count = 0.0
    with torch.no_grad():
        for start in range(0, len(items), 4):
            batch = collate(
                items,
                list(range(start, min(start + 4, len(items)))),
                pad_id=loaded.tokenizer.pad_token_id,
                packing=False,
                row_length=1024,
            )
            out = label_log_probs(loaded.model, batch)
            total -= float(out.token_logp.sum())
            count += out.token_logp.numel()
    return total / count


def task_metric(
    loaded: Any, holdout: list[Any], system: str, count: int, max_new_tokens: int
) -> dict[str, float]:
    """Greedy answers to holdout tickets: valid JSON, right category, right priority."""
    from tuneloop.evaluate import GenerationSettings, generate_batch

    prompts = [with_system(r, system)[:-1] for r in holdout[:count]]
    answers = generate_batch(loaded, prompts, GenerationSettings(max_new_tokens=max_new_tokens, batch_size=8))
    valid = category = priority = 0
    for record, answer in zip(holdout[:count], answers, strict=True):
        expected = json.loads(record.messages[-1].content)
        try:
            got = json.loads(answer.text.strip())
        except (json.JSONDecodeError, ValueError):
            continue
        if not isinstance(got, dict):
            continue
        valid += 1
        category += got.get("category") == expected.get("category")
        priority += got.get("priority") == expected.get("priority")
    n = max(1, len(prompts))
    return {"json_valid": valid / n, "category_accuracy": category / n, "priority_accuracy": priority / n}


def quality(
    project: Any, resolved: Any, holdout: list[Any], system: str, args: argparse.Namespace
) -> dict[str, float]:
    from tuneloop.models import load_model

    loaded = load_model(resolved, dtype="float32", device="cpu")
    result = {"holdout_loss": holdout_loss(loaded, holdout, system)}
    result |= task_metric(loaded, holdout, system, args.generate, args.max_new_tokens)
    return result


def model_flops(run: dict[str, Any], parameters: int, vocab: int, hidden: int) -> float:
    """FLOPs the training needs (no recomputation counted): forward 2N and activation backward 2N per
    processed token for the frozen body, plus the language-model head (2 V h forward + 2 V h backward)
    only where it is computed: at trained tokens for tuneloop, at every token for TRL."""
    head = vocab * hidden
    body = parameters - head
    head_tokens = run["loss_tokens"] if run["name"].startswith("tuneloop") else run["tokens"]
    return 4 * body * run["tokens"] + 4 * head * head_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--examples", type=int, default=16, help="training conversations (the first N of train.jsonl)"
    )
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--holdout", type=int, default=8, help="holdout conversations for the loss")
    parser.add_argument(
        "--generate", type=int, default=8, help="holdout prompts answered for the task metric"
    )
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument(
        "--trl-default-seconds", type=float, default=240, help="time bound of the TRL-defaults run"
    )
    parser.add_argument("--skip-trl-default", action="store_true")
    parser.add_argument("--skip-base", action="store_true", help="do not score the untrained model")
    parser.add_argument(
        "--model", help="model reference instead of the bundled SmolLM2 (e.g. a local directory)"
    )
    args = parser.parse_args()

    import torch

    from tuneloop.models import (
        ResolvedModel,
        count_parameters,
        cpu_supports_fast_bf16,
        measure_matmul_flops,
        resolve_model,
    )

    torch.manual_seed(0)
    print(
        f"load average at start: {os.getloadavg()}; torch threads {torch.get_num_threads()}; native bf16: {cpu_supports_fast_bf16()}"
    )
    peaks = {
        "float32": measure_matmul_flops("float32", seconds=2.0, size=2048),
        "bfloat16": measure_matmul_flops(
            "bfloat16", seconds=2.0, size=2048 if cpu_supports_fast_bf16() else 512
        ),
    }
    print("measured matmul peak: " + ", ".join(f"{k} {v / 1e9:,.1f} GFLOP/s" for k, v in peaks.items()))
    project, train_records, holdout, system = load_data(args)
    if args.model:
        project.config.model.base = str(Path(args.model).resolve())
    base = resolve_model(project.config.model.base, project)
    config = json.loads((base.base_path / "config.json").read_text())
    parameters = count_parameters(base.base_path)

    runs = [run_tuneloop(project, train_records)]
    print(f"load average after tuneloop: {os.getloadavg()}")
    work = Path(tempfile.mkdtemp(prefix="tl-bench-trl-"))
    conversations = [with_system(r, system) for r in train_records]
    runs.append(run_trl(base.base_path, conversations, bf16=False, epochs=args.epochs, out=work / "fp32"))
    print(f"load average after TRL (bf16 off): {os.getloadavg()}")
    if not args.skip_trl_default:
        runs.append(
            run_trl_bounded(
                base.base_path,
                conversations,
                epochs=args.epochs,
                seconds=args.trl_default_seconds,
                out=work / "default",
            )
        )
        print(f"load average after TRL (defaults): {os.getloadavg()}")

    scores: dict[str, dict[str, float]] = {}
    if not args.skip_base:
        scores["base model (untrained)"] = quality(project, base, holdout, system, args)
    for run in runs:
        if not run["finished"]:
            continue  # stopped by the time bound: throughput only
        resolved = (
            resolve_model(run["model"], project)
            if "model" in run
            else ResolvedModel("trl", base.base_path, base.base_weights_sha256, adapter_path=run["adapter"])
        )
        scores[run["name"]] = quality(project, resolved, holdout, system, args)

    report(runs, scores, peaks, parameters, config, args, base.label or base.reference)


def report(
    runs: list[dict[str, Any]],
    scores: dict[str, dict[str, float]],
    peaks: dict[str, float],
    parameters: int,
    config: dict[str, Any],
    args: argparse.Namespace,
    model: str,
) -> None:
    print()
    print(
        f"== training throughput: {model}, LoRA r=16 all linear, {args.examples} conversations x {args.epochs:g} epoch =="
    )
    print(
        "processed = non-padding tokens through the model (same data for every run: the like-for-like measure)"
    )
    print(
        "trained   = tokens that carry loss (tuneloop: assistant tokens; TRL defaults: the whole conversation)"
    )
    print("'<' marks an upper bound: no optimizer step finished within the time bound")
    print(
        f"{'run':<24} {'steps':>5} {'processed/s':>12} {'trained/s':>10} {'proc/CPU-s':>11} {'MFU':>7} {'dtype':>9}  finished"
    )
    for run in runs:
        flops = model_flops(run, parameters, config["vocab_size"], config["hidden_size"])
        run["tokens_per_s"] = run["tokens"] / run["seconds"]
        run["trained_per_s"] = run["loss_tokens"] / run["seconds"]
        run["tokens_per_cpu_s"] = run["tokens"] / max(run["cpu_seconds"], 1e-9)
        dtype = "bfloat16" if run["settings"]["bf16"] else "float32"
        run["mfu"] = flops / run["seconds"] / peaks[dtype]  # against the peak of the dtype it computes in
        mark = "<" if run["bound"] else " "
        cpu = "-" if run["bound"] else f"{run['tokens_per_cpu_s']:,.1f}"
        print(
            f"{run['name']:<24} {run['steps']:>5} {mark}{run['tokens_per_s']:>11,.1f} {mark}{run['trained_per_s']:>9,.1f} "
            f"{cpu:>11} {mark}{run['mfu']:>6.1%} {dtype:>9}  {run['finished']}"
        )
    ours = runs[0]
    for other in runs[1:]:
        at_least = ">" if other["bound"] else ""
        per_cpu = (
            ""
            if other["bound"]
            else f", per CPU-second {ours['tokens_per_cpu_s'] / other['tokens_per_cpu_s']:.2f}x"
        )
        print(
            f"ratio tuneloop / {other['name']}: processed tokens/s {at_least}{ours['tokens_per_s'] / other['tokens_per_s']:.2f}x"
            f"{per_cpu}, trained tokens/s {at_least}{ours['trained_per_s'] / other['trained_per_s']:.2f}x"
        )
    print()
    print(
        f"== holdout quality ({args.holdout} conversations for the loss, {args.generate} greedy answers) =="
    )
    print(f"{'model':<26} {'holdout loss':>12} {'JSON valid':>10} {'category':>9} {'priority':>9}")
    for name, score in scores.items():
        print(
            f"{name:<26} {score['holdout_loss']:>12.4f} {score['json_valid']:>10.0%} "
            f"{score['category_accuracy']:>9.0%} {score['priority_accuracy']:>9.0%}"
        )
    print("holdout loss: mean loss per assistant token (the same function for every model)")
    for run in runs:
        print(f"settings {run['name']}: {run['settings']}")
    print(
        "MFU = model FLOPs / time / measured matmul peak of the dtype the run computes in; model FLOPs = 4 x (params - head) per processed token + "
        "4 x head per token where logits are computed (no recomputation counted). Peaks: "
        + ", ".join(f"{k} {v / 1e9:,.1f} GFLOP/s" for k, v in peaks.items())
    )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
