"""The checks on structure and size: loading warnings, volume, template-true tokens, duplicates, conflicts.

Each check takes the :class:`~tuneloop.data.check.CheckContext`, writes one report section and adds
its findings; thresholds come from ``data:`` in tuneloop.yaml (:mod:`tuneloop.config.data`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneloop.data.conflicts import find_conflicts
from tuneloop.data.dedup import find_duplicates
from tuneloop.data.findings import where
from tuneloop.data.labels import label_of
from tuneloop.data.template import percentiles, token_report
from tuneloop.data.text import full_text, preview, prompt_text, response_text
from tuneloop.findings import MAX_ITEMS

if TYPE_CHECKING:
    from tuneloop.data.check import CheckContext


def loading_warnings(ctx: CheckContext) -> None:
    for problem in ctx.loaded.warnings:
        ctx.add("loading", problem.code, "warning", f"{problem.file}:{problem.line}: {problem.message}",
                items=[{"file": problem.file, "line": problem.line}])  # fmt: skip
    ctx.report["files"] = [vars(f) for f in ctx.loaded.files]


def text_index(ctx: CheckContext) -> None:
    """Words, keys, shingles and MinHash signatures of every record, shared by the checks below."""
    ctx.report["index"] = {"shingles": int(len(ctx.index.prompts.hashes) + len(ctx.index.answers.hashes))}


def volume(ctx: CheckContext) -> None:
    gates = ctx.settings.volume
    gate = gates.domain if ctx.goal == "domain" else gates.behaviour
    count = len(ctx.records)
    section: dict[str, object] = {
        "records": count,
        "goal": ctx.goal,
        "fail_below": gate.fail_below,
        "warn_below": gate.warn_below,
    }
    if count < gate.fail_below:
        ctx.add(
            "volume",
            "too_few_examples",
            "error",
            f"{count} examples; goal '{ctx.goal}' needs at least {gate.fail_below}",
        )
    elif count < gate.warn_below:
        ctx.add(
            "volume",
            "few_examples",
            "warning",
            f"{count} examples; goal '{ctx.goal}' works best with {gate.warn_below}+",
        )
    if ctx.tag:
        counts: dict[str, int] = {}
        for record in ctx.records:
            value = record.tags.get(ctx.tag, "(none)")
            counts[value] = counts.get(value, 0) + 1
        section["per_category"] = counts
        if tag_is_the_label(ctx):
            # Classification data tagged with its own label (CLINC's intent): the label checks own the
            # per-label minimum (data.labels.min_examples); a second, higher one would flag every label.
            section["per_category_gate"] = "left to the label checks (the tag is the answer's label)"
            ctx.report["volume"] = section
            return
        low = {k: v for k, v in counts.items() if v < gates.per_category.fail_below}
        thin = {
            k: v
            for k, v in counts.items()
            if gates.per_category.fail_below <= v < gates.per_category.warn_below
        }
        if low:
            ctx.add("volume", "category_too_small", "error",
                    f"{ctx.tag} values under {gates.per_category.fail_below} examples: " + listed(low))  # fmt: skip
        if thin:
            ctx.add("volume", "category_small", "warning",
                    f"{ctx.tag} values under {gates.per_category.warn_below} examples: " + listed(thin))  # fmt: skip
    ctx.report["volume"] = section


def tag_is_the_label(ctx: CheckContext) -> bool:
    """The answers are labels and the category tag names the same label on (almost) every record."""
    if not ctx.tag or not ctx.answers_are_labels:
        return False
    pairs = [
        (record.tags.get(ctx.tag), response_text(record)) for record in ctx.records if record.kind != "text"
    ]
    same = sum(tag is not None and label_of(str(tag)) == label_of(answer) for tag, answer in pairs)
    return bool(pairs) and same >= 0.95 * len(pairs)


def listed(counts: dict[str, int], limit: int = 10) -> str:
    """``a (3), b (4) and 140 more``: 150 intents would otherwise fill the terminal (the report has them all)."""
    shown = ", ".join(f"{k} ({v})" for k, v in list(counts.items())[:limit])
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def tokens(ctx: CheckContext) -> None:
    ctx.report["lengths_words"] = percentiles(ctx.index.word_counts[: len(ctx.records)])
    if ctx.tokenizer is None:
        return
    with ctx.progress.task("tokenizing (chat template)", total=len(ctx.records)) as task:
        report = token_report(
            ctx.tokenizer, ctx.records, ctx.max_length, ctx.system_prompt, progress=task.advance
        )
    ctx.tokens = report
    summary = report.summary()
    over = report.overlength
    summary["overlength_examples"] = [
        {**where(ctx.records[i]), "tokens": report.examples[i].total, "assistant_tokens_lost": report.examples[i].lost_assistant,  # type: ignore[union-attr]
         "final_answer_survives": report.examples[i].final_answer_survives}  # type: ignore[union-attr]
        for i in over[:MAX_ITEMS]
    ]  # fmt: skip
    summary["policy"] = ctx.settings.overlength
    ctx.report["tokens"] = summary
    ctx.charts["token_lengths"] = [e.total for e in report.examples if e is not None]
    if report.template_errors:
        ctx.add("tokens", "template_error", "error",
                f"the target model's chat template rejects {len(report.template_errors)} examples",
                count=len(report.template_errors),
                items=[{**where(ctx.records[i]), "error": message} for i, message in report.template_errors[:MAX_ITEMS]])  # fmt: skip
    if over:
        too_long = [e for i in over if (e := report.examples[i]) is not None]
        lost = sum(e.lost_assistant for e in too_long)
        broken = sum(1 for e in too_long if not e.final_answer_survives)
        action = (
            "they will be dropped (listed in the report), never truncated"
            if ctx.settings.overlength == "drop"
            else "data.overlength is 'fail'"
        )
        ctx.add("tokens", "over_max_length", "error" if ctx.settings.overlength == "fail" else "warning",
                f"{len(over)} {'example exceeds' if len(over) == 1 else 'examples exceed'} {ctx.max_length} tokens ({lost} assistant tokens past the limit, "
                f"{broken} lose their final answer); {action}", count=len(over), items=summary["overlength_examples"])  # fmt: skip
    _control_tokens(ctx)


def _control_tokens(ctx: CheckContext) -> None:
    """Special tokens typed into content (``<|im_end|>``) would end a turn early in training."""
    specials = [t for t in getattr(ctx.tokenizer, "all_special_tokens", []) if len(t) > 3]
    if not specials:
        return
    hits = [r for r in ctx.records if any(s in full_text(r) for s in specials)]
    if hits:
        ctx.add("tokens", "control_token_in_content", "warning",
                f"{len(hits)} examples contain the tokenizer's special tokens ({', '.join(specials[:4])}) in their text",
                count=len(hits), items=[where(r) for r in hits[:MAX_ITEMS]])  # fmt: skip


def duplicates(ctx: CheckContext) -> None:
    report = find_duplicates(ctx.records, ctx.settings.dedup, ctx.index)
    records = ctx.records
    removable = report.removable
    share = len(removable) / len(records) if records else 0.0
    ctx.report["duplicates"] = {
        "method": report.method,
        "exact": report.exact_count,
        "near": report.near_count,
        "removable": len(removable),
        "removable_share": share,
        "clusters": [
            {
                "kept": {**where(records[c.representative]), "text": preview(full_text(records[c.representative]))},
                "members": [{**where(records[m.index]), "kind": m.kind, "similarity": round(m.similarity, 3),
                             "reason": m.reason(records), "text": preview(full_text(records[m.index]))} for m in c.members],
            }
            for c in report.clusters[:MAX_ITEMS]
        ],
        "clusters_total": len(report.clusters),
    }  # fmt: skip
    if removable:
        severity = "error" if share > ctx.settings.dedup.max_share else "warning"
        ctx.add("duplicates", "duplicates", severity,
                f"{len(removable)} duplicates ({report.exact_count} exact, {report.near_count} near; {share:.1%}) in "
                f"{len(report.clusters)} clusters; `tuneloop data dedup` removes them", count=len(removable),
                items=[{**where(records[m.index]), "reason": m.reason(records)} for c in report.clusters for m in c.members][:MAX_ITEMS])  # fmt: skip


def conflicts(ctx: CheckContext) -> None:
    records = ctx.records
    found = find_conflicts(
        records,
        ctx.settings.conflicts,
        ctx.settings.dedup,
        use_embeddings=ctx.use_embeddings,
        index=ctx.index,
        labels=ctx.answers_are_labels,
    )
    involved = sum(len(c.indices) for c in found)
    share = involved / len(records) if records else 0.0
    ctx.report["conflicts"] = {
        "groups": len(found),
        "examples": involved,
        "share": share,
        "answers_are_labels": ctx.answers_are_labels,
        "items": [
            {"kind": c.kind, "reason": c.reason, "prompt": preview(prompt_text(records[c.indices[0]])),
             "examples": [{**where(records[i]), "answer": preview(response_text(records[i]), 60)} for i in c.indices[:10]]}
            for c in found[:MAX_ITEMS]
        ],
    }  # fmt: skip
    if found:
        severity = "error" if share > ctx.settings.conflicts.max_share else "warning"
        ctx.add("conflicts", "conflicting_answers", severity,
                f"{len(found)} groups of near-identical inputs with disagreeing answers ({involved} examples, {share:.1%})",
                count=len(found), items=[{**where(records[c.indices[0]]), "reason": c.reason} for c in found[:MAX_ITEMS]])  # fmt: skip
