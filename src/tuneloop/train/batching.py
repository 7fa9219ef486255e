"""Plan the whole run's batches up front, and collate a micro-batch into tensors.

The plan is a pure function of the items' lengths, the seed and the settings, so every process of a
distributed run and every resumed run computes the same plan; a checkpoint only needs the step
number to continue exactly where it stopped.

Two layouts, both without attention between examples:

- **length-grouped** (default for chat data): items are shuffled, sorted by length inside windows,
  and cut into micro-batches whose rows x longest-row stays under ``micro_batch_tokens``. Rows are
  right-padded and no attention mask is passed: with causal attention a real token never sees the
  padding after it, so the fast fused causal kernel runs and padding waste stays small.
- **packed** (default for cpt): several sequences share a row; position ids restart at every
  sequence start, from which transformers builds a block-diagonal causal mask, so a packed example
  gives the same loss as the example alone (a test proves it numerically).

Optimizer steps collect micro-batches until the step holds ``examples_per_step`` examples (the
default) or ``tokens_per_step`` loss tokens; the loss is normalised by the step's total of loss
tokens, so gradient accumulation gives exactly the gradient of the whole step (not a mean of
micro-batch means).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tuneloop.train.tokenize import IGNORE, TrainingItem

LENGTH_GROUP_WINDOW = 512
"""Items sorted by length together; large enough for little padding, small enough to stay random."""


@dataclass(frozen=True)
class MicroBatch:
    """Items that go through the model in one forward pass."""

    items: tuple[int, ...]
    loss_tokens: int
    tokens: int


@dataclass(frozen=True)
class Step:
    """One optimizer step: its micro-batches and the totals its loss is normalised by."""

    micro_batches: tuple[MicroBatch, ...]
    epoch: int

    @property
    def loss_tokens(self) -> int:
        return sum(mb.loss_tokens for mb in self.micro_batches)

    @property
    def num_items(self) -> int:
        return sum(len(mb.items) for mb in self.micro_batches)

    @property
    def tokens(self) -> int:
        return sum(mb.tokens for mb in self.micro_batches)

    def for_rank(self, rank: int, world_size: int) -> list[MicroBatch | None]:
        """This process's share; None marks a pass with zero weight that keeps every process doing
        the same number of forward/backward passes (DDP and FSDP need that)."""
        mine: list[MicroBatch | None] = list(self.micro_batches[rank::world_size])
        calls = math.ceil(len(self.micro_batches) / world_size)
        return mine + [None] * (calls - len(mine))


@dataclass
class TrainingPlan:
    steps: list[Step]
    steps_per_epoch: float
    examples_per_step: int
    """0 when steps are filled by ``tokens_per_step``."""
    tokens_per_step: int
    micro_batch_tokens: int
    packing: bool
    digest: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def total_loss_tokens(self) -> int:
        return sum(step.loss_tokens for step in self.steps)

    @property
    def total_tokens(self) -> int:
        return sum(step.tokens for step in self.steps)


def plan_micro_batches(
    items: Sequence[TrainingItem],
    *,
    seed: int,
    micro_batch_tokens: int,
    max_micro_batch: int,
    packing: bool,
    max_loss_tokens: int | None = None,
    max_items: int | None = None,
) -> list[MicroBatch]:
    """One epoch of micro-batches in a seeded random order.

    ``max_loss_tokens`` or ``max_items`` (the step budget) also caps a micro-batch, so a step of
    several micro-batches is possible even when memory would allow one huge micro-batch."""
    rng = random.Random(seed)
    order = list(range(len(items)))
    rng.shuffle(order)
    caps = (micro_batch_tokens, max_micro_batch, max_loss_tokens, max_items)
    if packing:
        batches = _fill(items, order, *caps)
    else:
        batches = []
        for start in range(0, len(order), LENGTH_GROUP_WINDOW):
            window = sorted(order[start : start + LENGTH_GROUP_WINDOW], key=lambda i: -_longest(items[i]))
            batches.extend(_group_by_length(items, window, *caps))
    rng.shuffle(batches)
    return batches


def _longest(item: TrainingItem) -> int:
    return max(len(s) for s in item.sequences)


def _group_by_length(
    items: Sequence[TrainingItem],
    window: list[int],
    budget: int,
    max_rows: int,
    max_loss: int | None,
    max_items: int | None,
) -> list[MicroBatch]:
    batches: list[MicroBatch] = []
    current: list[int] = []
    rows, longest, loss = 0, 0, 0
    for index in window:
        item = items[index]
        new_rows, new_longest = rows + len(item.sequences), max(longest, _longest(item))
        new_loss = loss + item.num_loss_tokens
        full = (
            new_rows * new_longest > budget
            or new_rows > max_rows
            or (max_loss is not None and new_loss > max_loss)
            or (max_items is not None and len(current) >= max_items)
        )
        if current and full:
            batches.append(_micro_batch(items, current))
            current, new_rows, new_longest, new_loss = (
                [],
                len(item.sequences),
                _longest(item),
                item.num_loss_tokens,
            )
        current.append(index)
        rows, longest, loss = new_rows, new_longest, new_loss
    if current:
        batches.append(_micro_batch(items, current))
    return batches


def _fill(
    items: Sequence[TrainingItem],
    order: list[int],
    budget: int,
    max_rows: int,
    max_loss: int | None,
    max_items: int | None,
) -> list[MicroBatch]:
    batches: list[MicroBatch] = []
    current: list[int] = []
    tokens, loss = 0, 0
    for index in order:
        size, item_loss = items[index].num_tokens, items[index].num_loss_tokens
        over_loss = max_loss is not None and loss + item_loss > max_loss
        rows = min(max_rows, max_items) if max_items is not None else max_rows
        if current and (tokens + size > budget or len(current) >= rows or over_loss):
            batches.append(_micro_batch(items, current))
            current, tokens, loss = [], 0, 0
        current.append(index)
        tokens += size
        loss += item_loss
    if current:
        batches.append(_micro_batch(items, current))
    return batches


def _micro_batch(items: Sequence[TrainingItem], indices: list[int]) -> MicroBatch:
    return MicroBatch(
        items=tuple(indices),
        loss_tokens=sum(items[i].num_loss_tokens for i in indices),
        tokens=sum(items[i].num_tokens for i in indices),
    )


def group_into_steps(
    micro_batches: list[MicroBatch], budget: int, epoch: int, *, by_examples: bool = False
) -> list[Step]:
    """Consecutive micro-batches until a step holds ``budget`` loss tokens (or examples, with
    ``by_examples``); a remainder under half a step joins the previous step instead of making a
    noisy small one."""

    def size(mbs: list[MicroBatch]) -> int:
        return sum(len(m.items) if by_examples else m.loss_tokens for m in mbs)

    steps: list[list[MicroBatch]] = []
    current: list[MicroBatch] = []
    for mb in micro_batches:
        current.append(mb)
        if size(current) >= budget:
            steps.append(current)
            current = []
    if current:
        if steps and size(current) < budget / 2:
            steps[-1].extend(current)
        else:
            steps.append(current)
    return [Step(tuple(s), epoch) for s in steps]


def build_plan(
    items: Sequence[TrainingItem],
    *,
    seed: int,
    epochs: float,
    max_steps: int | None,
    micro_batch_tokens: int,
    max_micro_batch: int,
    packing: bool,
    examples_per_step: int = 0,
    tokens_per_step: int = 0,
    world_size: int = 1,
) -> TrainingPlan:
    """Every optimizer step of the run: ``epochs`` passes (a fraction cuts the last one), or
    ``max_steps`` steps taking as many passes as needed.

    Steps hold ``examples_per_step`` examples, or ``tokens_per_step`` loss tokens when that is set;
    with examples, a micro-batch holds at most a process's share of a step, so every process of a
    distributed run has work in every step."""
    if not items or sum(item.num_loss_tokens for item in items) == 0:
        raise ValueError("nothing to train on: no items with loss tokens (preflight refuses this)")
    if not tokens_per_step and not examples_per_step:
        raise ValueError("a plan needs examples_per_step or tokens_per_step")
    by_examples = not tokens_per_step
    budget = examples_per_step if by_examples else tokens_per_step
    steps: list[Step] = []
    epoch_steps: list[int] = []
    epoch = 0
    wanted = max_steps
    while True:
        mbs = plan_micro_batches(
            items,
            seed=seed * 1_000_003 + epoch,
            micro_batch_tokens=micro_batch_tokens,
            max_micro_batch=max_micro_batch,
            packing=packing,
            max_loss_tokens=None if by_examples else tokens_per_step,
            max_items=math.ceil(examples_per_step / world_size) if by_examples else None,
        )
        this_epoch = group_into_steps(mbs, budget, epoch, by_examples=by_examples)
        epoch_steps.append(len(this_epoch))
        steps.extend(this_epoch)
        epoch += 1
        if wanted is None:
            wanted = max(1, round(epochs * epoch_steps[0]))
        if len(steps) >= wanted:
            break
    steps = steps[:wanted]
    plan = TrainingPlan(
        steps=steps,
        steps_per_epoch=float(epoch_steps[0]),
        examples_per_step=examples_per_step if by_examples else 0,
        tokens_per_step=tokens_per_step,
        micro_batch_tokens=micro_batch_tokens,
        packing=packing,
    )
    plan.digest = _digest(plan)
    return plan


def _digest(plan: TrainingPlan) -> str:
    payload = [[list(mb.items) for mb in step.micro_batches] for step in plan.steps]
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Batch:
    """Tensors of one micro-batch; logits are computed only where ``logits_mask`` is True."""

    input_ids: Any
    position_ids: Any | None
    logits_mask: Any
    """[rows, length] bool: positions whose next token is a label."""
    targets: Any
    """[N] the label of each kept position, in row-major order of ``logits_mask``."""
    target_sequence: Any
    """[N] which sequence (index into ``sequence_item``) each target belongs to."""
    sequence_item: list[int]
    """For each sequence: the position of its item in the micro-batch."""
    sequence_role: list[int]
    """For each sequence: its index inside the item (0 chosen/completion, 1 rejected/KL)."""
    item_indices: list[int]
    """Dataset indices of the micro-batch's items."""
    desirable: list[bool | None]
    loss_tokens: int
    tokens: int
    shared_prefix: int | None = None
    """Leading tokens every row shares (no logit needed inside them): forwarded once, see
    :mod:`tuneloop.train.prefix`. None in the packed layout or without such a prefix."""

    def to(self, device: Any) -> Batch:
        for name in ("input_ids", "position_ids", "logits_mask", "targets", "target_sequence"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(device))
        return self


def collate(
    items: Sequence[TrainingItem],
    indices: Sequence[int],
    *,
    pad_id: int,
    packing: bool,
    row_length: int,
    roles: Sequence[int] | None = None,
    share_prefix: bool = True,
) -> Batch:
    """Lay a micro-batch out as rows (one sequence per row, or packed rows) and build its targets.

    ``roles`` keeps only those sequences of each item (KTO runs its KL sequences separately).
    ``share_prefix`` marks the tokens all rows start with (not packed) to be forwarded once."""
    import torch

    from tuneloop.train.prefix import shared_prefix_length

    sequences, sequence_item, sequence_role = [], [], []
    for position, index in enumerate(indices):
        for role, sequence in enumerate(items[index].sequences):
            if roles is not None and role not in roles:
                continue
            sequences.append(sequence)
            sequence_item.append(position)
            sequence_role.append(role)
    rows = (
        _pack_rows([len(s) for s in sequences], row_length)
        if packing
        else [[i] for i in range(len(sequences))]
    )
    width = max(sum(len(sequences[i]) for i in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long) if packing else None
    next_label = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    owner = torch.full((len(rows), width), -1, dtype=torch.long)
    for r, row in enumerate(rows):
        offset = 0
        for s in row:
            seq = sequences[s]
            n = len(seq)
            input_ids[r, offset : offset + n] = torch.tensor(seq.input_ids)
            # position t predicts token t+1: the label of t+1 sits at t. labels[0] is always IGNORE,
            # so no position predicts the first token of the next packed sequence.
            next_label[r, offset : offset + n - 1] = torch.tensor(seq.labels[1:])
            owner[r, offset : offset + n] = s
            if position_ids is not None:
                position_ids[r, offset : offset + n] = torch.arange(n)
            offset += n
        if position_ids is not None and offset < width:
            position_ids[r, offset:] = torch.arange(width - offset)
    logits_mask = next_label != IGNORE
    return Batch(
        input_ids=input_ids,
        position_ids=position_ids,
        logits_mask=logits_mask,
        targets=next_label[logits_mask],
        target_sequence=owner[logits_mask],
        sequence_item=sequence_item,
        sequence_role=sequence_role,
        item_indices=list(indices),
        desirable=[items[i].desirable for i in indices],
        loss_tokens=sum(items[i].num_loss_tokens for i in indices),
        tokens=sum(items[i].num_tokens for i in indices),
        shared_prefix=shared_prefix_length(sequences) if share_prefix and not packing else None,
    )


def _pack_rows(lengths: list[int], row_length: int) -> list[list[int]]:
    """First-fit decreasing: each sequence into the first row with room (a longer one gets its own)."""
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        for r, free in enumerate(room):
            if lengths[index] <= free:
                rows[r].append(index)
                room[r] -= lengths[index]
                break
        else:
            rows.append([index])
            room.append(row_length - lengths[index])
    return rows
