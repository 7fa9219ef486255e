"""Shared-prefix training: the tokens every row of a micro-batch starts with go through the model once,
and the loss and the gradients of every trainable parameter equal the unshared forward."""

from __future__ import annotations

import random

import pytest
import torch

from tuneloop.config.train import PreferenceSettings
from tuneloop.data.records import Conversation, Message, Preference, SourceRef
from tuneloop.models import MIN_SHARED_PREFIX
from tuneloop.train.batching import collate
from tuneloop.train.methods import get_method
from tuneloop.train.objectives import label_log_probs
from tuneloop.train.prefix import shared_prefix_length, shared_prefix_logits
from tuneloop.train.steps import step_totals
from tuneloop.train.tokenize import IGNORE, TokenizedSequence, TrainingItem, build_items

PREFIX = 40


def _sequence(ids: list[int], first_label: int, source: str) -> TokenizedSequence:
    return TokenizedSequence(ids, [IGNORE] * first_label + ids[first_label:], source)


def _items(count: int, *, prefix: int = PREFIX, pairs: bool = False, seed: int = 0) -> list[TrainingItem]:
    """Rows starting with the same ``prefix`` tokens (loss-masked), then an own prompt and answer of
    different lengths (so rows are right-padded)."""
    rng = random.Random(seed)
    shared = [rng.randrange(3, 250) for _ in range(prefix)]
    items = []
    for index in range(count):
        prompt = shared + [rng.randrange(3, 250) for _ in range(rng.randint(1, 6))]
        sequences = []
        for role in range(2 if pairs else 1):
            answer = [rng.randrange(3, 250) for _ in range(rng.randint(2, 15 + 10 * index))]
            sequences.append(_sequence(prompt + answer, len(prompt), f"x:{index}:{role}"))
        items.append(TrainingItem(sequences, f"x:{index}", trained_sequences=len(sequences)))
    return items


class _MB:
    def __init__(self, items):
        self.items = items


def _lora(model):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        init_lora_weights=False,  # non-zero B, so every adapter matrix gets a gradient
    )
    return get_peft_model(model, config)


def _loss_and_grads(model, batch, **kwargs):
    """Per-sequence summed log-probabilities, the SFT loss and the gradient of every trainable parameter."""
    model.zero_grad(set_to_none=True)
    out = label_log_probs(model, batch, **kwargs)
    loss = -out.token_logp.sum() / max(batch.loss_tokens, 1)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return out.sequence_sums()[0].detach(), loss.detach(), grads


def _both(model, items, **kwargs):
    indices = list(range(len(items)))
    shared = collate(items, indices, pad_id=2, packing=False, row_length=512)
    plain = collate(items, indices, pad_id=2, packing=False, row_length=512, share_prefix=False)
    assert shared.shared_prefix is not None and plain.shared_prefix is None
    return shared, _loss_and_grads(model, shared, **kwargs), _loss_and_grads(model, plain, **kwargs)


def _assert_same(a, b, rtol=1e-5, atol=1e-6):
    sums_a, loss_a, grads_a = a
    sums_b, loss_b, grads_b = b
    torch.testing.assert_close(sums_a, sums_b, rtol=rtol, atol=atol)
    torch.testing.assert_close(loss_a, loss_b, rtol=rtol, atol=atol)
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=rtol, atol=atol, msg=name)
        assert grads_a[name].abs().sum() > 0, name


@pytest.mark.parametrize("pairs", [False, True], ids=["sft", "preference-pairs"])
def test_lora_loss_and_gradients_equal_the_unshared_forward(tiny_model, pairs):
    model = _lora(tiny_model).train()
    items = _items(5, pairs=pairs)
    batch, shared, plain = _both(model, items)
    assert batch.shared_prefix == PREFIX  # ends before the first position that predicts a label
    assert len({len(s) for item in items for s in item.sequences}) > 1  # really right-padded
    _assert_same(shared, plain)


def test_full_fine_tuning_gradients_equal_the_unshared_forward(tiny_model):
    """Without an adapter every weight trains, the (tied) embeddings of the prefix tokens included:
    their gradient reaches them only through the shared KV cache."""
    model = tiny_model.train()
    _, shared, plain = _both(model, _items(4, seed=5))
    _assert_same(shared, plain)


def test_no_grad_evaluation_gives_the_same_log_probs(tiny_model):
    """``evaluate_loss`` and ``compute_reference`` run the same path under no_grad in eval mode."""
    model = tiny_model.eval()
    items = _items(6, pairs=True, seed=2)
    indices = list(range(len(items)))
    with torch.no_grad():
        shared = label_log_probs(model, collate(items, indices, pad_id=2, packing=False, row_length=512))
        plain = label_log_probs(
            model, collate(items, indices, pad_id=2, packing=False, row_length=512, share_prefix=False)
        )
    torch.testing.assert_close(shared.token_logp, plain.token_logp, rtol=1e-5, atol=1e-6)
    assert torch.equal(shared.correct, plain.correct)


def test_bf16_autocast_runs_the_shared_path(tiny_model):
    model = _lora(tiny_model).train()
    _, shared, plain = _both(model, _items(4, seed=3), bf16=True)
    _assert_same(shared, plain, rtol=5e-2, atol=5e-2)


def test_shared_path_forwards_the_prefix_once(tiny_model):
    model = tiny_model.train()
    items = _items(4, seed=4)
    batch = collate(items, [0, 1, 2, 3], pad_id=2, packing=False, row_length=512)
    shapes = []
    hook = model.register_forward_pre_hook(
        lambda module, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        label_log_probs(model, batch)
    finally:
        hook.remove()
    rows, width = batch.input_ids.shape
    assert shapes == [(1, PREFIX), (rows, width - PREFIX)]


def test_chat_data_with_a_system_prompt_shares_it_and_dpo_loss_is_unchanged(tiny_model, tiny_tokenizer):
    """Real chat-templated items: the system prompt and template head are shared across a
    micro-batch of preference pairs, and the DPO loss and its gradients do not change."""
    system = Message(role="system", content="You are the support assistant of Example Corp. Be brief.")
    records = [
        Preference(
            prompt=[system, Message(role="user", content=f"question {i}?")],
            chosen=[Message(role="assistant", content=f"answer {i}" + "!" * i)],
            rejected=[Message(role="assistant", content="no")],
            source=SourceRef(file="p.jsonl", line=i + 1),
        )
        for i in range(4)
    ]
    items = build_items(records, tiny_tokenizer, method="dpo", max_length=256, masking="assistant_only")
    model = _lora(tiny_model).train()
    indices = list(range(len(items)))
    totals = step_totals(items, [_MB(indices)])
    reference = torch.zeros((len(items), 2)) - 50.0
    results = []
    for share in (True, False):
        batch = collate(items, indices, pad_id=2, packing=False, row_length=256, share_prefix=share)
        assert (batch.shared_prefix or 0) >= (len(system.content) if share else 0)
        model.zero_grad(set_to_none=True)
        out = get_method("dpo").objective(
            label_log_probs(model, batch), totals, PreferenceSettings(), reference=reference
        )
        out.loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        results.append((out.loss.detach(), grads))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    for name in results[0][1]:
        torch.testing.assert_close(results[0][1][name], results[1][1][name], rtol=1e-5, atol=1e-6, msg=name)


def test_sft_conversations_share_the_system_prompt(tiny_tokenizer):
    system = Message(role="system", content="You are the support assistant of Example Corp. Be brief.")
    records = [
        Conversation(
            messages=[
                system,
                Message(role="user", content=f"ticket {i}"),
                Message(role="assistant", content="ok" * (i + 1)),
            ],
            source=SourceRef(file="c.jsonl", line=i + 1),
        )
        for i in range(3)
    ]
    items = build_items(records, tiny_tokenizer, method="sft", max_length=256, masking="assistant_only")
    batch = collate(items, [0, 1, 2], pad_id=2, packing=False, row_length=256)
    assert batch.shared_prefix is not None and batch.shared_prefix >= len(system.content)
    assert not batch.logits_mask[:, : batch.shared_prefix].any()


# --- prefix detection -------------------------------------------------------------------------------


def test_rows_without_a_common_prefix_share_nothing():
    rows = [_sequence([5 + i, *list(range(10, 50))], 30, "x") for i in range(3)]
    assert shared_prefix_length(rows) is None


def test_prefix_stops_before_the_first_position_that_predicts_a_label():
    ids = list(range(3, 60))
    rows = [_sequence([*ids, 100 + i], 50, "a") for i in range(2)] + [_sequence([*ids, 7], 30, "b")]
    # position 29 predicts the label at 30, so the prefix is positions 0..28
    assert shared_prefix_length(rows) == 29


def test_short_prefixes_single_rows_and_packing_share_nothing():
    short = [_sequence([*list(range(3, 3 + MIN_SHARED_PREFIX - 1)), 50 + i, 60], 17, "x") for i in range(3)]
    assert shared_prefix_length(short) is None
    long = _items(3)
    assert shared_prefix_length([item.sequences[0] for item in long]) == PREFIX
    assert shared_prefix_length([long[0].sequences[0]]) is None
    assert collate(long, [0, 1, 2], pad_id=2, packing=True, row_length=512).shared_prefix is None
    assert collate(long, [0], pad_id=2, packing=False, row_length=512).shared_prefix is None


def test_a_label_inside_the_common_tokens_caps_the_prefix_below_the_minimum():
    ids = list(range(3, 60))
    rows = [_sequence([*ids, 100 + i], 10, "x") for i in range(3)]
    assert shared_prefix_length(rows) is None


def test_gradient_checkpointing_takes_the_plain_path_with_the_same_result(tiny_model):
    """Checkpointed layers drop a passed cache in training, so the shared path must not run there."""
    model = tiny_model.train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    items = _items(3, seed=6)
    batch = collate(items, [0, 1, 2], pad_id=2, packing=False, row_length=512)
    assert batch.shared_prefix == PREFIX
    assert shared_prefix_logits(model, batch) is None
    _, shared, plain = _both(model, items)
    _assert_same(shared, plain)
    with torch.no_grad():  # without a backward pass nothing is checkpointed: sharing works again
        assert shared_prefix_logits(model, batch) is not None
