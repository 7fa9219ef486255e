"""Preference objectives against their definitions, computed independently from full logits."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tuneloop.config.train import PreferenceSettings
from tuneloop.data.records import Message, Preference, SourceRef
from tuneloop.train.batching import collate
from tuneloop.train.methods import get_method
from tuneloop.train.methods.kto import kto_kl_estimate
from tuneloop.train.objectives import label_log_probs
from tuneloop.train.steps import compute_reference, step_totals
from tuneloop.train.tokenize import build_items


class _Cpu:
    device = torch.device("cpu")


def _pairs(tokenizer, method):
    records = [
        Preference(
            prompt=[Message(role="user", content=f"question {i}?")],
            chosen=[Message(role="assistant", content=f"answer {i}" + "!" * i)],
            rejected=[Message(role="assistant", content="no")],
            source=SourceRef(file="p.jsonl", line=i + 1),
        )
        for i in range(4)
    ]
    return build_items(records, tokenizer, method=method, max_length=256, masking="assistant_only", seed=0)


def _run(model, items, method, reference=None, settings=PreferenceSettings()):
    indices = list(range(len(items)))
    roles = (0,) if method == "kto" else None
    batch = collate(items, indices, pad_id=2, packing=False, row_length=256, roles=roles)
    extra = {}
    if reference is not None:
        extra["reference"] = reference[indices]
    if method == "kto":
        kl_batch = collate(items, indices, pad_id=2, packing=False, row_length=256, roles=(1,))
        extra["kl_estimate"] = kto_kl_estimate(model, kl_batch, reference[indices, 1])
    out = label_log_probs(model, batch)
    return get_method(method).objective(out, step_totals(items, [_MB(indices)]), settings, **extra)


class _MB:
    def __init__(self, items):
        self.items = items


def _reference(model, items):
    return compute_reference(
        model,
        items,
        accelerator=_Cpu(),
        pad_id=2,
        packing=False,
        row_length=256,
        micro_batch_tokens=4096,
        max_micro_batch=8,
    )


def test_dpo_starts_at_log_two_because_the_policy_is_its_reference(tiny_model, tiny_tokenizer):
    items = _pairs(tiny_tokenizer, "dpo")
    out = _run(tiny_model.eval(), items, "dpo", _reference(tiny_model, items))
    assert math.isclose(out.loss.item(), math.log(2), rel_tol=1e-4)


def test_kto_starts_at_one_half_weighted(tiny_model, tiny_tokenizer):
    items = _pairs(tiny_tokenizer, "kto")
    settings = PreferenceSettings(desirable_weight=2.0, undesirable_weight=1.0)
    out = _run(tiny_model.eval(), items, "kto", _reference(tiny_model, items), settings)
    assert math.isclose(out.loss.item(), (4 * 2.0 * 0.5 + 4 * 1.0 * 0.5) / 8, rel_tol=1e-4)


def test_dpo_loss_matches_the_formula_after_the_policy_moves(tiny_model, tiny_tokenizer):
    items = _pairs(tiny_tokenizer, "dpo")
    reference = _reference(tiny_model, items)
    with torch.no_grad():
        for parameter in tiny_model.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
    out = _run(tiny_model.eval(), items, "dpo", reference)
    policy = _reference(tiny_model, items)
    margin = (policy[:, 0] - reference[:, 0]) - (policy[:, 1] - reference[:, 1])
    expected = -F.logsigmoid(0.1 * margin).mean()
    assert math.isclose(out.loss.item(), float(expected), rel_tol=1e-4)


def test_orpo_matches_nll_plus_lambda_odds_ratio_from_full_logits(tiny_model, tiny_tokenizer):
    items = _pairs(tiny_tokenizer, "orpo")
    model = tiny_model.eval()
    out = _run(model, items, "orpo")
    nll_sum, tokens, odds = 0.0, 0, []
    for item in items:
        means = []
        for role, sequence in enumerate(item.sequences):
            ids = torch.tensor([sequence.input_ids])
            logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
            labels = torch.tensor(sequence.labels[1:])
            keep = labels != -100
            token_logp = logp[keep].gather(1, labels[keep][:, None])[:, 0]
            means.append(token_logp.mean())
            if role == 0:
                nll_sum -= token_logp.sum().item()
                tokens += int(keep.sum())
        c, r = means
        log_odds = (c - r) - (torch.log1p(-torch.exp(c)) - torch.log1p(-torch.exp(r)))
        odds.append(-F.logsigmoid(log_odds).item())
    expected = nll_sum / tokens + 0.1 * sum(odds) / len(odds)
    assert math.isclose(out.loss.item(), expected, rel_tol=1e-4)
