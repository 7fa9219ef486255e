"""Batch planning and collation: deterministic plans, token budgets, rank shares, and isolation of
packed examples (a packed batch gives each example the same loss as running it alone)."""

from __future__ import annotations

import random

import pytest
import torch

from tuneloop.train.batching import build_plan, collate, plan_micro_batches
from tuneloop.train.objectives import label_log_probs
from tuneloop.train.tokenize import IGNORE, TokenizedSequence, TrainingItem


def _items(count: int, seed: int = 0, vocab: int = 200) -> list[TrainingItem]:
    rng = random.Random(seed)
    items = []
    for index in range(count):
        length = rng.randint(8, 60)
        ids = [rng.randrange(3, vocab) for _ in range(length)]
        prompt = rng.randint(2, length - 2)
        labels = [IGNORE] * prompt + ids[prompt:]
        items.append(TrainingItem([TokenizedSequence(ids, labels, f"x:{index}")], f"x:{index}"))
    return items


def _plan(items, **overrides):
    settings = {
        "seed": 1,
        "epochs": 2.0,
        "max_steps": None,
        "tokens_per_step": 200,
        "micro_batch_tokens": 256,
        "max_micro_batch": 16,
        "packing": False,
    } | overrides
    return build_plan(items, **settings)


def test_plans_are_deterministic_and_depend_on_the_seed():
    items = _items(50)
    assert _plan(items).digest == _plan(items).digest
    assert _plan(items).digest != _plan(items, seed=2).digest


def test_every_item_is_seen_once_per_epoch_and_steps_meet_the_token_budget():
    items = _items(50)
    plan = _plan(items, epochs=1.0)
    seen = sorted(i for step in plan.steps for mb in step.micro_batches for i in mb.items)
    assert seen == list(range(50))
    assert all(step.loss_tokens >= 100 for step in plan.steps)  # the remainder joins a full step
    assert all(step.loss_tokens >= 200 for step in plan.steps[:-1])
    for step in plan.steps:
        for mb in step.micro_batches:
            longest = max(len(items[i].sequences[0]) for i in mb.items)
            assert len(mb.items) == 1 or len(mb.items) * longest <= 256


def test_max_steps_spans_as_many_epochs_as_needed():
    plan = _plan(_items(20), max_steps=25)
    assert len(plan.steps) == 25 and plan.steps[-1].epoch >= 2


def test_length_grouping_wastes_less_padding_than_random_batches():
    items = _items(200)

    def padding(batches):
        return sum(
            len(mb.items) * max(len(items[i].sequences[0]) for i in mb.items) - mb.tokens for mb in batches
        )

    grouped = plan_micro_batches(items, seed=0, micro_batch_tokens=512, max_micro_batch=8, packing=False)
    order = list(range(200))
    random.Random(0).shuffle(order)
    from tuneloop.train.batching import _micro_batch

    unsorted = [_micro_batch(items, order[i : i + 8]) for i in range(0, 200, 8)]
    assert padding(grouped) < 0.5 * padding(unsorted)


def test_each_rank_does_the_same_number_of_passes():
    step = _plan(_items(50), tokens_per_step=400).steps[0]
    shares = [step.for_rank(rank, 3) for rank in range(3)]
    assert len({len(s) for s in shares}) == 1
    real = [mb for share in shares for mb in share if mb is not None]
    assert sorted(id(mb) for mb in real) == sorted(id(mb) for mb in step.micro_batches)


def _per_example_nll(model, items, indices, packing, row_length=512):
    batch = collate(items, indices, pad_id=2, packing=packing, row_length=row_length)
    out = label_log_probs(model, batch)
    sums, _ = out.sequence_sums()
    return -sums.detach()


@pytest.mark.parametrize("count", [2, 5])
def test_packed_examples_do_not_attend_to_each_other(tiny_model, count):
    torch.manual_seed(0)
    model = tiny_model.eval()
    items = _items(count, seed=count, vocab=250)
    alone = torch.stack([_per_example_nll(model, items, [i], packing=False)[0] for i in range(count)])
    packed_batch = collate(items, list(range(count)), pad_id=2, packing=True, row_length=512)
    assert packed_batch.input_ids.shape[0] == 1  # all examples share one row
    packed = _per_example_nll(model, items, list(range(count)), packing=True)
    padded = _per_example_nll(model, items, list(range(count)), packing=False)
    torch.testing.assert_close(packed, alone, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(padded, alone, rtol=1e-4, atol=1e-4)


def test_naive_concatenation_would_leak_between_examples(tiny_model):
    """The isolation test can fail: packing without restarting position ids lets examples attend to
    each other and changes their loss."""
    model = tiny_model.eval()
    items = _items(3, seed=7, vocab=250)
    alone = torch.stack([_per_example_nll(model, items, [i], packing=False)[0] for i in range(3)])
    batch = collate(items, [0, 1, 2], pad_id=2, packing=True, row_length=512)
    batch.position_ids = torch.arange(batch.input_ids.shape[1]).unsqueeze(0)  # one long sequence
    leaked = -label_log_probs(model, batch).sequence_sums()[0].detach()
    assert not torch.allclose(leaked, alone, rtol=1e-3, atol=1e-3)


def test_logits_only_at_label_positions_equal_the_full_forward(tiny_model):
    model = tiny_model.eval()
    items = _items(4, seed=3, vocab=250)
    batch = collate(items, [0, 1, 2, 3], pad_id=2, packing=False, row_length=512)
    fast = label_log_probs(model, batch)
    full = label_log_probs(model, batch, full_logits=True)
    torch.testing.assert_close(fast.token_logp, full.token_logp, rtol=1e-5, atol=1e-5)
    assert fast.token_logp.numel() == sum(item.num_loss_tokens for item in items)
