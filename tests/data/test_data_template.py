"""Template-true token counts: assistant masks, over-length losses, percentiles, cost estimates."""

from __future__ import annotations

import numpy as np
import pytest

from tuneloop.data import (
    Conversation,
    Message,
    Preference,
    SourceRef,
    TextDocument,
    assistant_token_mask,
    tokenize_example,
)
from tuneloop.data.estimate import count_parameters, estimate_training, measure_cpu_throughput
from tuneloop.data.template import percentiles, token_report

SRC = SourceRef(file="t.jsonl", line=1)


def conversation(*pairs: tuple[str, str], weight: float | None = None) -> Conversation:
    messages = []
    for user, answer in pairs:
        messages += [
            Message(role="user", content=user),
            Message(role="assistant", content=answer, weight=weight),
        ]
    return Conversation(messages=messages, source=SRC)


def test_mask_covers_exactly_the_assistant_turns_and_their_end_token(tiny_tokenizer) -> None:
    record = conversation(("hi", "hello!"), ("q", "ok"))
    ids, mask, exact = assistant_token_mask(tiny_tokenizer, record.messages)
    assert exact
    assert (
        tiny_tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
        == "hello!<|im_end|>ok<|im_end|>"
    )
    # the byte-level tiny tokenizer makes counts checkable by hand: 6 + 1 + 2 + 1
    assert sum(mask) == 10


def test_weight_zero_turns_are_not_trained(tiny_tokenizer) -> None:
    messages = [Message(role="user", content="a"), Message(role="assistant", content="skip", weight=0),
                Message(role="user", content="b"), Message(role="assistant", content="keep")]  # fmt: skip
    ids, mask, _ = assistant_token_mask(tiny_tokenizer, messages)
    assert tiny_tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m]) == "keep<|im_end|>"


def test_overlength_counts_lost_assistant_tokens_and_final_answer(tiny_tokenizer) -> None:
    record = conversation(("x" * 50, "y" * 40))
    full = tokenize_example(tiny_tokenizer, record, max_length=10_000)
    assert full.lost_assistant == 0 and full.final_answer_survives
    cut = full.total - 20
    short = tokenize_example(tiny_tokenizer, record, max_length=cut)
    assert short.lost_assistant == 20 - 1  # the trailing newline after <|im_end|> is not trained
    assert not short.final_answer_survives
    assert short.assistant == full.assistant == 41


def test_project_system_prompt_is_counted_like_training_adds_it(tiny_tokenizer) -> None:
    record = conversation(("q", "a"))
    plain = tokenize_example(tiny_tokenizer, record, 4096)
    with_system = tokenize_example(tiny_tokenizer, record, 4096, system_prompt="S" * 30)
    # the template's default system prompt is replaced by ours
    default = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    assert with_system.total - plain.total == 30 - len(default)


def test_preference_and_text_records(tiny_tokenizer) -> None:
    pref = Preference(prompt=[Message(role="user", content="q")], chosen=[Message(role="assistant", content="good")],
                      rejected=[Message(role="assistant", content="much worse")], source=SRC)  # fmt: skip
    counted = tokenize_example(tiny_tokenizer, pref, 4096)
    assert counted.assistant == len("good") + 1
    assert counted.processed > counted.total
    text = tokenize_example(tiny_tokenizer, TextDocument(text="abc", source=SRC), 4096)
    assert text.total == text.assistant == 4


def test_template_errors_are_reported_per_example(tiny_tokenizer) -> None:
    import copy

    strict = copy.deepcopy(tiny_tokenizer)
    strict.chat_template = (
        "{% if messages|length > 2 %}{{ raise_exception('two turns only') }}{% endif %}"
        + tiny_tokenizer.chat_template
    )
    report = token_report(strict, [conversation(("a", "b")), conversation(("a", "b"), ("c", "d"))], 512)
    assert [i for i, _ in report.template_errors] == [1]
    assert "two turns only" in report.template_errors[0][1]
    assert report.examples[0] is not None and report.examples[1] is None


def test_percentiles_use_linear_interpolation() -> None:
    values = list(range(1, 101))
    result = percentiles(values)
    assert result == {"min": 1.0, "p5": 5.95, "median": 50.5, "p95": 95.05, "max": 100.0}
    assert result["p95"] == pytest.approx(float(np.percentile(values, 95)))


def test_cost_estimate_uses_six_or_four_n_flops(tiny_model_dir) -> None:
    params = count_parameters(tiny_model_dir)
    assert params and params > 10_000
    full = estimate_training(
        processed_tokens=1000, loss_tokens=300, epochs=2, adapter="full", num_parameters=params
    )
    lora = estimate_training(
        processed_tokens=1000, loss_tokens=300, epochs=2, adapter="lora", num_parameters=params
    )
    assert full["flops"] == 6 * params * 2000
    assert lora["flops"] == 4 * params * 2000
    h100 = next(g for g in full["gpus"] if g["gpu"] == "H100 SXM")
    assert h100["seconds"] == pytest.approx(full["flops"] / (989e12 * 0.35))


def test_cpu_probe_measures_forward_backward_throughput(tiny_model_dir) -> None:
    import torch

    torch.set_num_threads(1)
    tokens_per_second = measure_cpu_throughput(tiny_model_dir, sequence_length=32, steps=2)
    assert tokens_per_second > 0
    estimate = estimate_training(processed_tokens=640, loss_tokens=100, epochs=1, adapter="full", num_parameters=None,
                                 cpu_tokens_per_second=tokens_per_second)  # fmt: skip
    assert estimate["cpu_seconds"] == pytest.approx(640 / tokens_per_second)
