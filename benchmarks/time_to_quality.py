"""Time to quality: tuneloop's training defaults against a plain TRL ``SFTTrainer`` with its defaults.

Run (bundled model, offline)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/time_to_quality.py --quick     # smoke test, ~3.5 min
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/time_to_quality.py --intents 30 --datasets clinc150
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/time_to_quality.py --out ttq.jsonl   # everything: hours

Rough times on an idle 2-core CPU with native bf16 (estimated from measured rates, for the defaults of
this release): ``--intents 30 --datasets clinc150`` ~45 min; all 150 intents ~2 h; support ~2.5-3 h
(most of it the grid). Another process on the same cores slows every run several times over.

Two datasets, each trained several ways in this one process on this machine, then scored the same way:

- ``clinc150``: the CLINC150 subset in ``../shared/datasets/clinc150/`` (150 intents x 10 training
  examples, 5 held-out per intent; CC BY 3.0, see its ``SOURCE.md``). ``--intents N`` takes a seeded
  sample of N intents. Metric: exact match of the greedy answer (whitespace stripped) with the intent.
- ``support``: ``examples/support`` (train.jsonl, holdout.jsonl, the project's system prompt).
  Metric: category accuracy, the ``category`` of the answer parsed as one JSON object.

Runs, all SmolLM2-135M-Instruct (the bundled base, one safetensors directory) with the same LoRA
(r, alpha, dropout and target modules read from tuneloop's resolved settings), so only the recipe differs:

1. **tuneloop defaults**: ``tuneloop.train.train`` with no training overrides (whatever the derived
   batch, epochs, learning rate, early stopping and schedule are in this version). Its holdout (eval
   loss, early stopping, best weights) is a validation split of the held-out file (1 of the 5 per
   intent; a quarter of support's) that no run is scored on; ``--tuneloop-holdout none|test``.
2. **TRL**: ``SFTTrainer`` configured as a competent user would on this machine: LoRA at the
   learning rate TRL's PEFT guide gives (2e-4; ``SFTConfig`` ships 2e-5), bf16 only where the hardware
   has it, no gradient checkpointing on a CPU; everything else as shipped (batch 8, 3 epochs, linear
   schedule, loss on the whole conversation), ``report_to="none"``, ``save_strategy="no"``, the same
   threads as tuneloop, seed 42. ``--trl-as-shipped`` adds ``SFTConfig`` exactly as shipped.
3. **grid**: tuneloop itself over a small learning rate x examples-per-step grid (``GRID_*`` below,
   ``--grid-lr``/``--grid-batch``, ``--no-grid``): the best accuracy a short search finds.

Every model (the untrained base too, unless ``--skip-base``) answers every held-out prompt through
tuneloop's batched greedy generation (``tuneloop.evaluate.generate_batch``: fp32 weights, the LoRA
adapter on the base, bf16 autocast only where the hardware runs it natively), the same path for all.

Printed per dataset: training time (the sum of optimizer-step times, the same definition on both
sides; the whole call including loading and setup as "wall"), processed tokens/s (non-padding tokens
through the model) and trained tokens/s (tokens with loss: tuneloop's assistant tokens, TRL's whole
conversation, its default for conversational data), optimizer steps, held-out accuracy, the ratios and
whether each target is met: tuneloop's defaults reach >= 6x TRL's accuracy on CLINC150, >= 90% of the
grid's best, in <= 1/3 of TRL's training time. The script ends with one JSON line per dataset
(``--out FILE`` writes them to a file too)::

    {"dataset": "clinc150", "tuneloop_acc": ..., "trl_acc": ..., "grid_best_acc": ..., "tuneloop_train_s": ..., "trl_train_s": ..., ...}

with the ratios (null where undefined or infinite, e.g. TRL's accuracy is 0), ``targets`` (target ->
true/false, null when not measured: no grid), steps, tokens/s and the settings tuneloop derived.

``--quick`` is a smoke test of every code path (10 intents x 5 examples, 20 held-out; 16 support
conversations, 8 held-out; 2 optimizer steps per run; a grid of 2): its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "examples" / "support"
CLINC_DIR = ROOT.parent / "shared" / "datasets" / "clinc150"
CLINC_TRAIN, CLINC_HOLDOUT = "train_10_per_intent.jsonl", "holdout_5_per_intent.jsonl"

# The grid tuneloop is searched over (learning rate x examples per optimizer step): change it here.
GRID_LEARNING_RATES = [3e-4, 1e-3, 3e-3]
GRID_EXAMPLES_PER_STEP = [8, 32]
QUICK_GRID_LEARNING_RATES = [1e-3, 3e-3]
QUICK_GRID_EXAMPLES_PER_STEP = [8]

TRL_LORA_LEARNING_RATE = 2e-4
"""TRL's PEFT integration guide's LoRA learning rate (SFTConfig itself ships 2e-5)."""

TARGET_ACC_VS_TRL = {"clinc150": 6.0}
"""tuneloop's defaults reach at least this multiple of TRL's held-out accuracy (per dataset)."""
TARGET_ACC_VS_GRID = 0.9
"""... and at least this fraction of the best accuracy the grid finds ..."""
TARGET_TIME_VS_TRL = 1 / 3
"""... in at most this fraction of TRL's training time."""

TRL_DEFAULTS_SHOWN = [
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "num_train_epochs",
    "lr_scheduler_type",
    "warmup_steps",
    "weight_decay",
    "max_grad_norm",
    "optim",
    "bf16",
    "gradient_checkpointing",
    "max_length",
    "packing",
    "padding_free",
    "assistant_only_loss",
    "completion_only_loss",
    "seed",
]


@dataclass
class Task:
    """One dataset: its temporary project, training and held-out records, and how answers are scored."""

    name: str
    project: Any
    train: list[Any]
    holdout: list[Any]
    """The test set every run is scored on."""
    validation: list[Any]
    """What tuneloop's training may see as its holdout (eval loss, early stopping): disjoint from
    ``holdout``, as a project's ``data.holdout`` is from the data its model is judged on."""
    system: str | None
    metric: str
    max_new_tokens: int
    correct: Callable[[str, Any], bool]
    description: str


@dataclass
class RunResult:
    name: str
    kind: str  # base | tuneloop | trl | grid
    steps: int | None = None
    train_s: float | None = None
    """Optimizer steps, plus tuneloop's holdout evaluations (``eval_s``) that early stopping needs."""
    eval_s: float | None = None
    wall_s: float | None = None
    tokens: int | None = None
    loss_tokens: int | None = None
    learning_rate: float | None = None
    batch: str = "-"
    epochs: float | None = None
    accuracy: float | None = None
    examples: list[tuple[str, str]] = field(default_factory=list)
    model: Any = None  # a ResolvedModel
    settings: dict[str, Any] = field(default_factory=dict)

    def per_s(self, count: int | None) -> float | None:
        steps_s = (self.train_s or 0.0) - (self.eval_s or 0.0)  # tokens/s: optimizer steps only
        return count / steps_s if count is not None and steps_s > 0 else None


# --------------------------------------------------------------------------------------------------
# Datasets


def _clinc_answer(record: Any) -> str:
    return (record.final_answer() or "").strip()


def make_clinc(args: argparse.Namespace, workdir: Path) -> Task:
    from tuneloop.data import load_records
    from tuneloop.project import Project

    source = Path(args.clinc_dir)
    if not (source / CLINC_TRAIN).is_file():
        raise SystemExit(f"CLINC150 subset not found in {source} (pass --clinc-dir)")
    train = load_records([source / CLINC_TRAIN], tag_fields=["intent"])
    holdout = load_records([source / CLINC_HOLDOUT], tag_fields=["intent"])
    intents = sorted({_clinc_answer(r) for r in train})
    if args.intents and args.intents < len(intents):
        intents = sorted(random.Random(args.seed).sample(intents, args.intents))
    chosen = set(intents)

    def take(records: list[Any], per_intent: int) -> list[Any]:
        counts: dict[str, int] = {}
        kept = []
        for record in records:
            intent = _clinc_answer(record)
            if intent in chosen and counts.get(intent, 0) < per_intent:
                counts[intent] = counts.get(intent, 0) + 1
                kept.append(record)
        return kept

    train = take(train, args.per_intent)
    holdout = take(holdout, args.holdout_per_intent)
    validation, holdout = split_per_intent(holdout, args.validation_per_intent)
    root = workdir / "clinc150"
    root.mkdir(parents=True)
    # The project a tuneloop user sets up: an eval suite on the validation split (exact match), which
    # training's early stopping and best-weights selection use by default (train.early_stopping_metric).
    write_jsonl(root / "validation.jsonl", [{**_row(r), "intent": _clinc_answer(r)} for r in validation])
    (root / "evals").mkdir()
    (root / "evals" / "clinc.yaml").write_text(CLINC_SUITE)
    config = (
        "project:\n  name: clinc\n  description: CLINC150 intent routing benchmark\n"
        "data:\n  tag_fields: [intent]\neval:\n  suites: [evals/clinc.yaml]\n  forgetting_check: false\n"
    )
    if args.model:
        config += f"model:\n  base: {args.model}\n"
    (root / "tuneloop.yaml").write_text(config)
    return Task(
        name="clinc150",
        project=Project.open(root),
        train=train,
        holdout=holdout,
        validation=validation,
        system=None,  # every record carries its system prompt
        metric="exact match",
        max_new_tokens=args.clinc_max_new_tokens,
        correct=lambda answer, record: answer.strip() == _clinc_answer(record),
        description=f"{len(intents)} intents x {args.per_intent} training examples ({len(train)}), "
        f"{len(validation)} validation (tuneloop's holdout), {len(holdout)} test",
    )


CLINC_SUITE = """name: clinc
items: {file: ../validation.jsonl}
category_field: intent
generation: {max_new_tokens: 16, temperature: 0.0, batch_size: 32}
metrics: [exact_match]
primary_metric: exact_match
"""


def _row(record: Any) -> dict[str, Any]:
    return {"messages": [{"role": m.role, "content": m.content} for m in record.messages]}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def split_per_intent(records: list[Any], per_intent: int) -> tuple[list[Any], list[Any]]:
    """The first ``per_intent`` records of each intent, and the rest."""
    counts: dict[str, int] = {}
    first, rest = [], []
    for record in records:
        intent = _clinc_answer(record)
        counts[intent] = counts.get(intent, 0) + 1
        (first if counts[intent] <= per_intent else rest).append(record)
    return first, rest


def _category(text: str) -> str | None:
    try:
        data = json.loads(text.strip())
    except (json.JSONDecodeError, ValueError):
        return None
    return data.get("category") if isinstance(data, dict) else None


def make_support(args: argparse.Namespace, workdir: Path) -> Task:
    from tuneloop.data import load_records
    from tuneloop.project import Project

    root = workdir / "support"
    root.mkdir(parents=True)
    for name in ("train.jsonl", "holdout.jsonl"):
        shutil.copy2(SUPPORT / name, root / name)
    # The example's own suite, on the validation split: what early stopping selects on by default.
    shutil.copytree(SUPPORT / "evals", root / "evals")
    suite = root / "evals" / "support.yaml"
    suite.write_text(suite.read_text().replace("{file: ../holdout.jsonl}", "{file: ../validation.jsonl}"))
    config = (SUPPORT / "tuneloop.yaml").read_text()
    config = config.replace("  forgetting_check: true", "  forgetting_check: false")
    if args.model:
        config += f"\nmodel:\n  base: {args.model}\n"
    (root / "tuneloop.yaml").write_text(config)
    project = Project.open(root)
    tags = project.config.data.tag_fields
    train = load_records([root / "train.jsonl"], tag_fields=tags)
    holdout = load_records([root / "holdout.jsonl"], tag_fields=tags)
    if args.support_train:
        train = train[: args.support_train]
    if args.support_holdout:
        holdout = holdout[: args.support_holdout]
    cut = round(len(holdout) * args.support_validation_share)
    validation, holdout = holdout[:cut], holdout[cut:]
    rows = [json.loads(line) for line in (root / "holdout.jsonl").read_text().splitlines() if line.strip()]
    write_jsonl(root / "validation.jsonl", rows[:cut])
    return Task(
        name="support",
        project=project,
        train=train,
        holdout=holdout,
        validation=validation,
        system=project.config.project.system_prompt,
        metric="category accuracy",
        max_new_tokens=args.support_max_new_tokens,
        correct=lambda answer, record: (
            (got := _category(answer)) is not None and got == _category(record.final_answer() or "")
        ),
        description=f"{len(train)} training conversations, {len(validation)} validation "
        f"(tuneloop's holdout), {len(holdout)} test",
    )


def messages(record: Any, system: str | None) -> list[dict[str, str]]:
    """The record as chat messages, with ``system`` first when it has no system message."""
    out = [{"role": m.role, "content": m.content} for m in record.messages]
    if system and (not out or out[0]["role"] != "system"):
        out.insert(0, {"role": "system", "content": system})
    return out


# --------------------------------------------------------------------------------------------------
# Training


def tuneloop_overrides(learning_rate: float, examples_per_step: int, task: Task) -> dict[str, Any]:
    """Grid overrides: examples per step where this tuneloop has the setting, else the same batch
    expressed as trained tokens per step (the training set's mean trained tokens per example)."""
    from tuneloop.config.train import TrainSection

    if "examples_per_step" in TrainSection.model_fields:
        return {"learning_rate": learning_rate, "examples_per_step": examples_per_step}
    from tuneloop.models import load_tokenizer, resolve_model
    from tuneloop.train.tokenize import build_items

    base = resolve_model(task.project.config.model.base, task.project)
    items = build_items(
        task.train,
        load_tokenizer(base.base_path),
        method="sft",
        max_length=task.project.config.model.max_length,
        masking="assistant_only",
        system_prompt=task.system,
    )
    mean = sum(i.num_loss_tokens for i in items) / max(1, len(items))
    return {"learning_rate": learning_rate, "tokens_per_step": max(16, round(examples_per_step * mean))}


def run_tuneloop(
    task: Task, name: str, kind: str, overrides: dict[str, Any], args: argparse.Namespace
) -> RunResult:
    from tuneloop.console import stage_progress
    from tuneloop.models import resolve_model
    from tuneloop.train import get_run, train

    print(f"[{task.name}] {name}: training {len(task.train)} examples ...", flush=True)
    began = time.perf_counter()
    result = train(
        task.project,
        records=task.train,
        holdout_records={"validation": task.validation, "test": task.holdout, "none": []}[
            args.tuneloop_holdout
        ],
        no_eval=True,
        progress=stage_progress(quiet=not args.verbose),
        overrides=overrides,
    )
    wall = time.perf_counter() - began
    if result.model_version is None:
        raise SystemExit(f"tuneloop run {result.run_name} ended '{result.status}' without a model version")
    run = get_run(task.project, result.run_name)
    summary, settings = run.summary, run.config.get("settings", {})
    if settings.get("examples_per_step"):
        batch = f"{settings['examples_per_step']} ex"
    elif settings.get("tokens_per_step"):
        batch = f"{settings['tokens_per_step']} tok"
    else:
        batch = "?"
    out = RunResult(
        name=name,
        kind=kind,
        steps=summary.get("steps"),
        # Holdout evaluations (loss, suite metric) are part of tuneloop's recipe: early stopping and
        # the best weights need them, so they count as training time.
        train_s=(summary.get("train_seconds") or 0.0) + (summary.get("eval_seconds") or 0.0),
        eval_s=summary.get("eval_seconds"),
        wall_s=wall,
        tokens=summary.get("tokens"),
        loss_tokens=summary.get("loss_tokens"),
        learning_rate=settings.get("learning_rate"),
        batch=batch,
        epochs=settings.get("epochs"),
        model=resolve_model(result.model_version, task.project),
        settings=settings,
    )
    extra = ""
    if summary.get("stopped_early") or summary.get("best_step"):
        extra = f", stopped early: {summary.get('stopped_early')}, best step {summary.get('best_step')}"
    print(
        f"[{task.name}] {name}: {out.steps} steps in {out.train_s:.1f} s (of which holdout evaluations "
        f"{out.eval_s or 0:.1f} s; wall {wall:.1f} s){extra}",
        flush=True,
    )
    return out


def trl_defaults() -> dict[str, Any]:
    """``SFTConfig``'s defaults in the installed TRL (constructed with ``use_cpu`` so that TRL's bf16
    default does not refuse to build on a machine without a bf16 GPU)."""
    from trl import SFTConfig

    config = SFTConfig(output_dir=tempfile.mkdtemp(prefix="ttq-trl-defaults-"), use_cpu=True)
    return {name: _plain(getattr(config, name, None)) for name in TRL_DEFAULTS_SHOWN}


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


class CountingCollator:
    """Wraps TRL's collator: the tokens of every batch, credited to the optimizer step that uses it."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator
        self.pending: list[tuple[int, int]] = []

    def __call__(self, examples: list[Any]) -> Any:
        batch = self.collator(examples)
        mask = batch.get("attention_mask")
        tokens = int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        self.pending.append((tokens, int((batch["labels"][:, 1:] != -100).sum())))
        return batch


def run_trl(
    task: Task,
    base: Any,
    lora_settings: dict[str, Any],
    threads: int,
    *,
    as_shipped: bool,
    kind: str,
    args: argparse.Namespace,
    out: Path,
) -> RunResult:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from tuneloop.models import ResolvedModel

    name = "TRL as shipped" if as_shipped else "TRL, LoRA as its docs advise"
    print(f"[{task.name}] {name}: training {len(task.train)} examples ...", flush=True)
    torch.set_num_threads(threads)
    began = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(base.base_path)
    model = AutoModelForCausalLM.from_pretrained(base.base_path, dtype=torch.float32)
    dataset = Dataset.from_list([{"messages": messages(r, task.system)} for r in task.train])
    options: dict[str, Any] = {
        "output_dir": str(out),
        "report_to": "none",
        "save_strategy": "no",
        "seed": 42,
        "disable_tqdm": not args.verbose,
    }
    if not torch.cuda.is_available():
        options["use_cpu"] = True
    if not as_shipped:
        # The competent user: TRL's PEFT guide sets learning_rate 2e-4 for LoRA ("~10x the full
        # fine-tuning rate"; SFTConfig ships 2e-5), bf16 only where the hardware has it, and no
        # gradient checkpointing on a CPU, where memory is plentiful and recomputation costs a third.
        from tuneloop.models import cpu_supports_fast_bf16

        options["learning_rate"] = TRL_LORA_LEARNING_RATE
        options["bf16"] = torch.cuda.is_available() or cpu_supports_fast_bf16()
        if not torch.cuda.is_available():
            options["gradient_checkpointing"] = False
    if args.max_steps:
        options["max_steps"] = args.max_steps
    config = SFTConfig(**options)
    lora = LoraConfig(
        r=lora_settings["lora_r"],
        lora_alpha=lora_settings["lora_alpha"],
        lora_dropout=lora_settings["lora_dropout"],
        target_modules=lora_settings["target_modules"],
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=lora
    )
    counter = CountingCollator(trainer.data_collator)
    trainer.data_collator = counter

    class StepTimer(TrainerCallback):
        """Sums optimizer-step times and credits each step its batches' tokens."""

        def __init__(self) -> None:
            self.seconds = 0.0
            self.tokens = self.loss_tokens = 0
            self._began = 0.0

        def on_step_begin(self, targs: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._began = time.perf_counter()

        def on_step_end(self, targs: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.seconds += time.perf_counter() - self._began
            for _ in range(targs.gradient_accumulation_steps):
                if counter.pending:
                    tokens, loss_tokens = counter.pending.pop(0)
                    self.tokens += tokens
                    self.loss_tokens += loss_tokens

    timer = StepTimer()
    trainer.add_callback(timer)
    trainer.train()
    adapter = out / "adapter"
    trainer.model.save_pretrained(adapter)
    wall = time.perf_counter() - began
    result = RunResult(
        name=name,
        kind=kind,
        steps=trainer.state.global_step,
        train_s=timer.seconds,
        wall_s=wall,
        tokens=timer.tokens,
        loss_tokens=timer.loss_tokens,
        learning_rate=config.learning_rate,
        batch=f"{config.per_device_train_batch_size * config.gradient_accumulation_steps} ex",
        epochs=config.num_train_epochs,
        model=ResolvedModel(
            reference=f"trl:{task.name}",
            base_path=base.base_path,
            base_weights_sha256=base.base_weights_sha256,
            adapter_path=adapter,
            label="trl",
        ),
        settings={"bf16": config.bf16, "gradient_checkpointing": config.gradient_checkpointing},
    )
    print(
        f"[{task.name}] {name}: {result.steps} steps in {result.train_s:.1f} s (wall {wall:.1f} s)",
        flush=True,
    )
    del trainer, model
    gc.collect()
    return result


# --------------------------------------------------------------------------------------------------
# Scoring


def score(task: Task, run: RunResult, args: argparse.Namespace) -> None:
    """Greedy answers to every held-out prompt (the same generation path for every model)."""
    from tuneloop.console import stage_progress
    from tuneloop.evaluate import GenerationSettings, generate_batch
    from tuneloop.models import load_model

    began = time.perf_counter()
    loaded = load_model(run.model, dtype="float32")
    prompts = [messages(r, task.system)[:-1] for r in task.holdout]
    settings = GenerationSettings(max_new_tokens=task.max_new_tokens, batch_size=args.generate_batch)
    answers = generate_batch(loaded, prompts, settings, progress=stage_progress(quiet=not args.verbose))
    hits = [task.correct(a.text, r) for a, r in zip(answers, task.holdout, strict=True)]
    run.accuracy = sum(hits) / max(1, len(hits))
    run.examples = [
        (r.final_answer() or "", a.text) for a, r in zip(answers[:3], task.holdout[:3], strict=True)
    ]
    print(
        f"[{task.name}] {run.name}: {task.metric} {run.accuracy:.3f} on {len(hits)} held-out "
        f"({time.perf_counter() - began:.0f} s to score)",
        flush=True,
    )
    del loaded
    gc.collect()


# --------------------------------------------------------------------------------------------------
# One dataset


def benchmark(
    task: Task, args: argparse.Namespace, workdir: Path, defaults: dict[str, Any]
) -> dict[str, Any]:
    import torch

    from tuneloop.models import resolve_model

    print(f"\n===== {task.name}: {task.description} =====", flush=True)
    base = resolve_model(task.project.config.model.base, task.project)  # converts the bundled model once
    common: dict[str, Any] = {"max_steps": args.max_steps} if args.max_steps else {}
    if args.threads:
        common["threads"] = args.threads
    runs: list[RunResult] = []

    ours = run_tuneloop(task, "tuneloop defaults", "tuneloop", dict(common), args)
    runs.append(ours)
    threads = int(ours.settings.get("threads") or args.threads or torch.get_num_threads())
    torch.set_num_threads(threads)
    lora = {k: ours.settings[k] for k in ("lora_r", "lora_alpha", "lora_dropout", "target_modules")}

    runs.append(
        run_trl(task, base, lora, threads, as_shipped=False, kind="trl", args=args, out=workdir / "trl")
    )
    if args.trl_as_shipped:
        runs.append(
            run_trl(
                task,
                base,
                lora,
                threads,
                as_shipped=True,
                kind="trl_as_shipped",
                args=args,
                out=workdir / "trl-shipped",
            )
        )

    if args.grid:
        for lr in args.grid_lr:
            for batch in args.grid_batch:
                overrides = common | tuneloop_overrides(lr, batch, task)
                runs.append(run_tuneloop(task, f"grid lr={lr:g} batch={batch}", "grid", overrides, args))

    if not args.skip_base:
        runs.insert(0, RunResult(name="base model (untrained)", kind="base", model=base))
    for run in runs:
        score(task, run, args)
    return summarise(task, runs, args, threads, defaults)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    if b == 0:
        return math.inf if a > 0 else None
    return a / b


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return format(value, spec)


def _json_number(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def summarise(
    task: Task, runs: list[RunResult], args: argparse.Namespace, threads: int, defaults: dict[str, Any]
) -> dict[str, Any]:
    ours = next(r for r in runs if r.kind == "tuneloop")
    trl = next(r for r in runs if r.kind == "trl")
    shipped = next((r for r in runs if r.kind == "trl_as_shipped"), None)
    grid = [r for r in runs if r.kind == "grid"]
    best = max(grid, key=lambda r: r.accuracy or 0.0) if grid else None

    print(f"\n== {task.name}: {task.description}; metric: {task.metric}; {threads} threads ==")
    header = (
        f"{'run':<30} {'lr':>8} {'batch':>9} {'epochs':>6} {'steps':>6} {'train s':>8} {'wall s':>8} "
        f"{'processed/s':>11} {'trained/s':>10} {'accuracy':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        print(
            f"{r.name:<30} {_fmt(r.learning_rate, '.2g'):>8} {r.batch:>9} {_fmt(r.epochs, 'g'):>6} "
            f"{_fmt(r.steps, 'd'):>6} {_fmt(r.train_s, '.1f'):>8} {_fmt(r.wall_s, '.1f'):>8} "
            f"{_fmt(r.per_s(r.tokens), ',.1f'):>11} {_fmt(r.per_s(r.loss_tokens), ',.1f'):>10} "
            f"{_fmt(r.accuracy, '.3f'):>8}"
        )
    print(
        "train s: sum of optimizer-step times, plus tuneloop's holdout evaluations (early stopping needs "
        "them); wall s: the whole training call (model load, tokenisation, "
        "pre-flight, saving); processed = non-padding tokens through the model; trained = tokens with loss"
    )
    for r in runs[:4]:
        if r.examples:
            shown = "; ".join(f"{ref[:40]!r} -> {got[:60]!r}" for ref, got in r.examples[:2])
            print(f"  e.g. {r.name}: {shown}")

    acc_vs_trl = _ratio(ours.accuracy, trl.accuracy)
    acc_vs_grid = _ratio(ours.accuracy, best.accuracy if best else None)
    time_vs_trl = _ratio(ours.train_s, trl.train_s)
    wall_vs_trl = _ratio(ours.wall_s, trl.wall_s)
    shown = _fmt(acc_vs_trl, ".2f")
    note = {"-": " (both 0)", "inf": " (TRL 0)"}.get(shown, "x")
    print(f"ratio tuneloop / TRL accuracy:         {shown}{note}")
    if best:
        print(f"ratio tuneloop / grid best accuracy:   {_fmt(acc_vs_grid, '.2f')} (best: {best.name})")
    print(
        f"ratio tuneloop / TRL training time:    {_fmt(time_vs_trl, '.3f')} (wall: {_fmt(wall_vs_trl, '.3f')})"
    )
    print(
        f"ratio tuneloop / TRL tokens/s:         processed {_fmt(_ratio(ours.per_s(ours.tokens), trl.per_s(trl.tokens)), '.2f')}x, "
        f"trained {_fmt(_ratio(ours.per_s(ours.loss_tokens), trl.per_s(trl.loss_tokens)), '.2f')}x"
    )
    if shipped:
        print(
            f"ratio tuneloop / TRL as shipped:       accuracy {_fmt(_ratio(ours.accuracy, shipped.accuracy), '.2f')}x, "
            f"training time {_fmt(_ratio(ours.train_s, shipped.train_s), '.3f')}"
        )

    # Compared as products, not ratios, so a zero accuracy on either side gives a clear answer
    # (tuneloop must be above zero to beat TRL by a factor).
    mine = ours.accuracy or 0.0
    targets: dict[str, bool | None] = {}
    if task.name in TARGET_ACC_VS_TRL:
        need = TARGET_ACC_VS_TRL[task.name]
        targets[f"acc_vs_trl>={need:g}x"] = mine > 0 and mine >= need * (trl.accuracy or 0.0)
    targets[f"acc_vs_grid>={TARGET_ACC_VS_GRID:g}"] = (
        None if best is None else mine >= TARGET_ACC_VS_GRID * (best.accuracy or 0.0)
    )
    targets[f"time_vs_trl<={TARGET_TIME_VS_TRL:.3g}"] = (
        None if time_vs_trl is None else time_vs_trl <= TARGET_TIME_VS_TRL
    )
    for target, met in targets.items():
        print(f"target {target}: {'not measured' if met is None else 'met' if met else 'NOT met'}")
    if args.quick:
        print("(--quick: a smoke test of the code paths; its numbers mean nothing)")

    line: dict[str, Any] = {
        "dataset": task.name,
        "metric": task.metric,
        "tuneloop_acc": _json_number(ours.accuracy),
        "trl_acc": _json_number(trl.accuracy),
        "grid_best_acc": _json_number(best.accuracy) if best else None,
        "tuneloop_train_s": _json_number(ours.train_s, 2),
        "tuneloop_eval_s": _json_number(ours.eval_s, 2),
        "trl_train_s": _json_number(trl.train_s, 2),
        "tuneloop_wall_s": _json_number(ours.wall_s, 2),
        "trl_wall_s": _json_number(trl.wall_s, 2),
        "tuneloop_steps": ours.steps,
        "trl_steps": trl.steps,
        "tuneloop_tokens_per_s": _json_number(ours.per_s(ours.tokens), 2),
        "tuneloop_trained_tokens_per_s": _json_number(ours.per_s(ours.loss_tokens), 2),
        "trl_tokens_per_s": _json_number(trl.per_s(trl.tokens), 2),
        "trl_trained_tokens_per_s": _json_number(trl.per_s(trl.loss_tokens), 2),
        "acc_ratio_vs_trl": _json_number(acc_vs_trl),
        "acc_ratio_vs_grid": _json_number(acc_vs_grid),
        "train_time_ratio_vs_trl": _json_number(time_vs_trl),
        "targets": targets,
        "trl_bf16": trl.settings.get("bf16"),
        "tuneloop_settings": {
            k: ours.settings.get(k)
            for k in ("learning_rate", "examples_per_step", "tokens_per_step", "epochs", "bf16", "threads")
        },
        "grid_best": {"name": best.name, "learning_rate": best.learning_rate, "batch": best.batch}
        if best
        else None,
        "grid": [
            {"name": r.name, "acc": _json_number(r.accuracy), "train_s": _json_number(r.train_s, 2)}
            for r in grid
        ],
        "train_examples": len(task.train),
        "holdout_examples": len(task.holdout),
        "threads": threads,
        "quick": bool(args.quick),
    }
    if shipped:
        line |= {
            "trl_as_shipped_acc": _json_number(shipped.accuracy),
            "trl_as_shipped_train_s": _json_number(shipped.train_s, 2),
        }
    base_run = next((r for r in runs if r.kind == "base"), None)
    if base_run:
        line["base_acc"] = _json_number(base_run.accuracy)
    return line


# --------------------------------------------------------------------------------------------------


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke test of every code path")
    parser.add_argument("--datasets", default="clinc150,support", help="comma-separated: clinc150,support")
    parser.add_argument("--clinc-dir", default=str(CLINC_DIR), help="the CLINC150 subset's directory")
    parser.add_argument("--intents", type=int, help="a seeded sample of N intents (default: all 150)")
    parser.add_argument("--per-intent", type=int, help="training examples per intent (default 10)")
    parser.add_argument("--holdout-per-intent", type=int, help="held-out examples per intent (default 5)")
    parser.add_argument(
        "--support-train", type=int, help="first N support training conversations (default: all)"
    )
    parser.add_argument(
        "--support-holdout", type=int, help="first N support held-out conversations (default: all)"
    )
    parser.add_argument("--clinc-max-new-tokens", type=int, default=16)
    parser.add_argument("--support-max-new-tokens", type=int, default=128)
    parser.add_argument("--generate-batch", type=int, default=32, help="prompts per generation batch")
    parser.add_argument(
        "--grid", dest="grid", action="store_true", default=True, help="run the grid (default)"
    )
    parser.add_argument("--no-grid", dest="grid", action="store_false", help="skip the tuneloop grid")
    parser.add_argument(
        "--grid-lr", type=_floats, help=f"grid learning rates (default {GRID_LEARNING_RATES})"
    )
    parser.add_argument(
        "--grid-batch",
        type=_ints,
        help=f"grid examples per optimizer step (default {GRID_EXAMPLES_PER_STEP})",
    )
    parser.add_argument(
        "--trl-as-shipped",
        action="store_true",
        help="also train TRL exactly as shipped (SFTConfig's defaults: lr 2e-5, bf16, gradient "
        "checkpointing; very slow where bf16 is emulated)",
    )
    parser.add_argument(
        "--tuneloop-holdout",
        choices=["validation", "none", "test"],
        default="validation",
        help="what tuneloop's training sees as data.holdout (eval loss, early stopping): 'validation' "
        "(default) a split of the held-out file that no run is scored on; 'none'; 'test' (leaks)",
    )
    parser.add_argument(
        "--validation-per-intent",
        type=int,
        default=1,
        help="CLINC150 held-out examples per intent moved to the validation split (default 1 of 5)",
    )
    parser.add_argument(
        "--support-validation-share",
        type=float,
        default=0.25,
        help="share of the support held-out file moved to the validation split (default 0.25)",
    )
    parser.add_argument("--max-steps", type=int, help="cap every run at N optimizer steps (--quick: 2)")
    parser.add_argument("--threads", type=int, help="CPU threads for every run (default: tuneloop's choice)")
    parser.add_argument("--skip-base", action="store_true", help="do not score the untrained base model")
    parser.add_argument("--model", help="base model reference instead of the bundled SmolLM2")
    parser.add_argument("--seed", type=int, default=0, help="seed of the intent sample")
    parser.add_argument("--out", type=Path, help="also write the JSON lines to this file")
    parser.add_argument("--workdir", type=Path, help="work directory (default: a temporary one, removed)")
    parser.add_argument("--verbose", action="store_true", help="show the trainers' own progress output")
    args = parser.parse_args(argv)
    quick = args.quick
    for name, full, small in (
        ("intents", None, 10),
        ("per_intent", 10, 5),
        ("holdout_per_intent", 5, 2),
        ("support_train", None, 16),
        ("support_holdout", None, 8),
        ("max_steps", None, 2),
        ("grid_lr", GRID_LEARNING_RATES, QUICK_GRID_LEARNING_RATES),
        ("grid_batch", GRID_EXAMPLES_PER_STEP, QUICK_GRID_EXAMPLES_PER_STEP),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    if quick:
        args.skip_base = True
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = set(args.datasets) - {"clinc150", "support"}
    if unknown:
        parser.error(f"unknown datasets: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not os.environ.get("TUNELOOP_MODEL_CACHE"):
        # One converted copy of the bundled model for every temporary project (and later runs).
        from tuneloop.project import user_home

        os.environ["TUNELOOP_MODEL_CACHE"] = str(user_home() / "models")

    import torch
    import trl

    from tuneloop.models import cpu_supports_fast_bf16, quiet_transformers

    quiet_transformers()
    began = time.perf_counter()
    defaults = trl_defaults()
    print(
        f"time to quality: tuneloop vs TRL {trl.__version__} SFTTrainer; torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, native bf16: {cpu_supports_fast_bf16()}, CUDA: {torch.cuda.is_available()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"TRL SFTConfig defaults (this version): {json.dumps(defaults)}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ttq-"))
    workdir.mkdir(parents=True, exist_ok=True)
    lines = []
    try:
        for name in args.datasets:
            task_dir = workdir / name
            if task_dir.exists():
                shutil.rmtree(task_dir)
            task_dir.mkdir(parents=True)
            task = make_clinc(args, task_dir) if name == "clinc150" else make_support(args, task_dir)
            lines.append(benchmark(task, args, task_dir, defaults))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\ntotal time {time.perf_counter() - began:.0f} s; load average at end {os.getloadavg()[0]:.2f}")
    text = "".join(json.dumps(line) + "\n" for line in lines)
    if args.out:
        args.out.write_text(text)
    print(text, end="", flush=True)


if __name__ == "__main__":
    main()
