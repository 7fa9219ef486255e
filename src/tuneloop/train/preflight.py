"""Pre-flight: what will be trained, checked before any compute is spent.

Run by ``tuneloop train --dry-run`` and before every real run. It renders a few examples with the
tokens that carry loss marked, refuses data whose labels are all masked, checks that the chat
template's end-of-turn token is trained after every assistant turn and is an EOS of generation (a
model that never learns to stop is the most reported fine-tuning bug), and estimates memory and
time from the model's size, the plan and a short matmul measurement of this machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuneloop.findings import Finding, Severity
from tuneloop.models import adapter_parameters, measure_matmul_flops, render_chat, training_flops_per_token
from tuneloop.train.batching import TrainingPlan
from tuneloop.train.settings import TrainSettings, activation_bytes_per_token
from tuneloop.train.tokenize import IGNORE, TokenizedSequence, TrainingItem

TRAINED_OPEN, TRAINED_CLOSE = "⟦", "⟧"
"""Markers around trained tokens in plain-text renderings (colour is used on terminals)."""


@dataclass
class PreflightReport:
    findings: list[Finding] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    """Rendered examples: ``source``, ``segments`` [(text, trained)], ``marked`` text."""
    stats: dict[str, Any] = field(default_factory=dict)
    estimates: dict[str, Any] = field(default_factory=dict)
    end_of_turn: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def add(self, severity: Severity, code: str, message: str) -> None:
        """An ``error`` refuses the run unless forced; ``warning`` and ``info`` are shown."""
        self.findings.append(Finding("preflight", code, severity, message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "findings": [f.to_dict() for f in self.findings],
            "examples": [{k: v for k, v in e.items() if k != "segments"} for e in self.examples],
            "stats": self.stats,
            "estimates": self.estimates,
            "end_of_turn": self.end_of_turn,
        }


def render_segments(sequence: TokenizedSequence, tokenizer: Any) -> list[tuple[str, bool]]:
    """Consecutive runs of decoded text, each marked trained or not."""
    segments: list[tuple[str, bool]] = []
    run: list[int] = []
    trained = None
    for token, label in zip(sequence.input_ids, sequence.labels, strict=True):
        is_trained = label != IGNORE
        if trained is not None and is_trained != trained:
            segments.append((tokenizer.decode(run), trained))
            run = []
        run.append(token)
        trained = is_trained
    if run:
        segments.append((tokenizer.decode(run), bool(trained)))
    return segments


def marked_text(segments: list[tuple[str, bool]]) -> str:
    return "".join(f"{TRAINED_OPEN}{text}{TRAINED_CLOSE}" if trained else text for text, trained in segments)


def end_of_turn_token(tokenizer: Any, catalog_token: str | None) -> str | None:
    """The token closing an assistant turn: the catalog's, else the first special token the chat
    template puts after an assistant message, else the tokenizer's EOS."""
    if catalog_token:
        return catalog_token
    if getattr(tokenizer, "chat_template", None):
        probe = "tuneloop-probe-answer"
        text = render_chat(
            tokenizer, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": probe}]
        )
        after = text[text.rfind(probe) + len(probe) :]
        specials = sorted(
            set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "added_tokens_encoder", {})),
            key=len,
            reverse=True,
        )
        for position in range(len(after)):
            for special in specials:
                if special and after.startswith(special, position):
                    return special
    return tokenizer.eos_token


def check_end_of_turn(
    report: PreflightReport,
    items: list[TrainingItem],
    tokenizer: Any,
    eot: str | None,
    generation_eos: list[int],
    chat: bool,
) -> None:
    eot_id = tokenizer.convert_tokens_to_ids(eot) if eot else None
    report.end_of_turn = {
        "token": eot,
        "id": eot_id,
        "generation_eos_ids": generation_eos,
        "eos_token": tokenizer.eos_token,
    }
    if eot_id is None:
        report.add(
            "warning", "no_end_of_turn", "could not determine the end-of-turn token; generation may not stop"
        )
        return
    if eot_id not in generation_eos:
        report.add(
            "warning",
            "eos_mismatch",
            f"the end-of-turn token {eot!r} (id {eot_id}) is not an EOS of generation (generation stops on "
            f"{generation_eos or 'nothing'}): a model served with this config would never stop after its answer. "
            "tuneloop writes a generation_config.json with it added to every trained version.",
        )
    if not chat:
        return
    spans = ended = 0
    for item in items:
        for sequence in item.sequences[: item.trained_sequences]:
            for last_token, truncated_end in _span_ends(sequence):
                spans += 1
                ended += last_token == eot_id or truncated_end
    report.end_of_turn |= {"trained_turns": spans, "turns_ending_with_end_of_turn": ended}
    if spans and ended == 0:
        report.add(
            "error",
            "end_of_turn_not_trained",
            f"no trained assistant turn ends with {eot!r}: the model would not learn to stop. The labels are "
            "built from the chat template; check model.chat_template and train.loss_masking.",
        )
    elif spans and ended < spans:
        report.add(
            "warning",
            "end_of_turn_partly_trained",
            f"{spans - ended} of {spans} trained turns do not end with {eot!r}",
        )


def _span_ends(sequence: TokenizedSequence) -> list[tuple[int, bool]]:
    """(last token, runs into the truncation point) of every run of trained tokens."""
    ends = []
    labels = sequence.labels
    for position, label in enumerate(labels):
        if label == IGNORE:
            continue
        if position + 1 == len(labels) or labels[position + 1] == IGNORE:
            at_cut = sequence.truncated and position + 1 == len(labels)
            ends.append((sequence.input_ids[position], at_cut))
    return ends


def check_items(report: PreflightReport, items: list[TrainingItem], dropped: list[str], records: int) -> None:
    sequences = [s for item in items for s in item.sequences]
    loss_tokens = sum(item.num_loss_tokens for item in items)
    truncated = [s.source for s in sequences if s.truncated]
    report.stats |= {
        "records": records,
        "items": len(items),
        "sequences": len(sequences),
        "tokens": sum(len(s) for s in sequences),
        "loss_tokens": loss_tokens,
        "loss_token_fraction": loss_tokens / max(1, sum(len(s) for s in sequences)),
        "truncated": len(truncated),
        "dropped_without_labels": len(dropped),
        "longest": max((len(s) for s in sequences), default=0),
    }
    if loss_tokens == 0:
        report.add(
            "error",
            "all_labels_masked",
            "every label is masked: no token carries loss, so training would change nothing. Check that the data "
            "has assistant turns with non-zero weight, or set train.loss_masking: full.",
        )
    if dropped:
        report.add(
            "warning",
            "examples_without_labels",
            f"{len(dropped)} examples have no trained token and are skipped (first: {dropped[0]})",
        )
    if truncated:
        report.add(
            "warning",
            "truncated",
            f"{len(truncated)} sequences exceed model.max_length and were cut (first: {truncated[0]})",
        )


def estimate(
    report: PreflightReport,
    plan: TrainingPlan,
    settings: TrainSettings,
    *,
    parameters: int,
    model_dir: Any,
    trainable: int | None = None,
    matmul_flops: float | None = None,
) -> None:
    """Memory (weights, gradients, AdamW states, activations) and time, written into ``report``."""
    bytes_per_weight = 0.5 + 0.05 if settings.adapter == "qlora" else 4
    if trainable is None:
        trainable = (
            parameters
            if settings.adapter == "full"
            else adapter_parameters(model_dir, settings.target_modules, settings.lora_r)
        )
    weights = parameters * bytes_per_weight
    optimizer = trainable * (4 + 8)  # gradients + two AdamW moments, fp32
    activations = settings.micro_batch_tokens * activation_bytes_per_token(
        model_dir, checkpointing=settings.gradient_checkpointing
    )
    flops = training_flops_per_token(
        parameters, adapter=settings.adapter, checkpointing=settings.gradient_checkpointing
    )
    peak = matmul_flops or measure_matmul_flops("bfloat16" if settings.bf16 else "float32")
    seconds = plan.total_tokens * flops / (peak * 0.5)
    report.estimates = {
        "memory_gib": {
            "weights": weights / 2**30,
            "gradients_and_optimizer": optimizer / 2**30,
            "activations": activations / 2**30,
            "total": (weights + optimizer + activations) / 2**30,
        },
        "steps": len(plan.steps),
        "tokens": plan.total_tokens,
        "loss_tokens": plan.total_loss_tokens,
        "trainable_parameters": trainable,
        "flops_per_token": flops,
        "measured_matmul_flops": peak,
        "seconds": seconds,
        "assumption": "time = tokens x FLOPs per token / (measured matmul FLOP/s x 0.5 utilisation); rough",
    }


def preflight_lines(report: PreflightReport, settings: TrainSettings) -> list[str]:
    """The pre-flight as plain lines for the caller's progress reporter: the data, two examples with
    trained tokens between markers, the estimates, every derived setting and the findings."""
    stats, estimates = report.stats, report.estimates
    lines = [
        f"pre-flight {settings.method}/{settings.adapter}: {stats.get('items', 0)} examples, "
        f"{stats.get('tokens', 0):,} tokens, {stats.get('loss_tokens', 0):,} trained "
        f"({stats.get('loss_token_fraction', 0):.0%}), {stats.get('steps', '?')} steps"
    ]
    lines += [f"{example['source']}: {example['marked']}" for example in report.examples[:2]]
    if estimates:
        memory = estimates["memory_gib"]
        lines.append(
            f"  estimate: ~{memory['total']:.1f} GiB (weights {memory['weights']:.1f}, "
            f"optimizer {memory['gradients_and_optimizer']:.2f}, activations {memory['activations']:.1f}); "
            f"~{_duration(estimates['seconds'])} at "
            f"{estimates['measured_matmul_flops'] / 1e9:,.0f} GFLOP/s measured (rough)"
        )
    lines += [f"  {key} = {why}" for key, why in settings.derived.items()]
    lines += [f"  {f.severity}: {f.message} [{f.code}]" for f in report.findings]
    return lines


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
