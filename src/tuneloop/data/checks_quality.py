"""The checks on content: diversity, balance, production match, sensitive data, contamination, cost."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from tuneloop.config.train import derive_epochs, derive_examples_per_step
from tuneloop.data.balance import answer_shares, is_refusal, tag_distribution
from tuneloop.data.conflicts import free_text_parts
from tuneloop.data.contamination import holdout_contamination
from tuneloop.data.diversity import (
    embedding_clusters,
    lexical_diversity,
    mean_pairwise_similarity,
    sample_indices,
)
from tuneloop.data.findings import where
from tuneloop.data.sensitive import scan_rows
from tuneloop.data.text import full_text, normalise_text, preview, prompt_text, response_text
from tuneloop.findings import MAX_ITEMS

if TYPE_CHECKING:
    from tuneloop.data.check import CheckContext


def diversity(ctx: CheckContext) -> None:
    limits = ctx.settings.diversity
    # records reported one by one (runaway answers) stay out of the corpus figures they would decide
    kept = [r for i, r in enumerate(ctx.records) if i not in ctx.repetitive]
    prompts = [prompt_text(r) for r in ctx.records]
    cap = limits.max_words_per_record
    section: dict[str, Any] = {"prompts": lexical_diversity([prompt_text(r) for r in kept], cap)}
    if ctx.answers_are_labels:
        # every label set "repeats itself" and compresses: the labels check asks the right questions
        section["answers"] = {"skipped": "answers are labels (classification); see the labels check"}
    else:
        answers = [response_text(r) for r in kept]
        section["answers"] = lexical_diversity(
            free_text_parts(answers, ctx.settings.conflicts.max_label_values), cap
        )
    section["excluded_records"] = len(ctx.records) - len(kept)
    for side in ("prompts", "answers"):
        lexical = section[side]
        if lexical.get("sample_words", 0) < 200:
            continue
        if lexical["distinct_2"] < limits.min_distinct_2:
            ctx.add("diversity", "low_distinct_2", "warning",
                    f"{side} repeat themselves: distinct-2 {lexical['distinct_2']:.2f} < {limits.min_distinct_2}")  # fmt: skip
        if lexical["compression_ratio"] > limits.max_compression_ratio:
            ctx.add("diversity", "high_compression", "warning",
                    f"{side} compress {lexical['compression_ratio']:.1f}x (> {limits.max_compression_ratio}): templated text")  # fmt: skip
    if ctx.use_embeddings and len(ctx.records) >= 10:
        from tuneloop.data.embedding_cache import cached_embed

        chosen = sample_indices(len(ctx.records), ctx.settings.embeddings.max_records)
        texts = [prompts[i] or full_text(ctx.records[i]) for i in chosen]
        vectors = cached_embed(texts, ctx.settings.embeddings.batch_size, ctx.cache_dir)
        clusters = embedding_clusters(vectors)
        similarity = mean_pairwise_similarity(vectors)
        ctx.charts["cluster_map"] = (clusters.pop("map"), clusters.pop("labels"))
        section["clusters"] = {**clusters, "embedded": len(chosen), "mean_similarity": similarity}
        if clusters["clusters"] > 1 and clusters["largest_share"] > limits.max_largest_cluster_share:
            ctx.add("diversity", "dominant_cluster", "warning",
                    f"one topic cluster holds {clusters['largest_share']:.0%} of the prompts")  # fmt: skip
        if clusters["clusters"] > 1 and clusters["entropy"] < limits.min_cluster_entropy:
            ctx.add("diversity", "uneven_clusters", "warning",
                    f"prompt clusters are uneven (normalised entropy {clusters['entropy']:.2f} < {limits.min_cluster_entropy})")  # fmt: skip
        if similarity > limits.max_mean_similarity:
            ctx.add("diversity", "prompts_too_similar", "warning",
                    f"prompts are very alike (mean cosine similarity {similarity:.2f} > {limits.max_mean_similarity})")  # fmt: skip
    ctx.report["diversity"] = section


def balance(ctx: CheckContext) -> None:
    limits = ctx.settings.balance
    answered = [r for r in ctx.records if r.kind != "text"]
    answers = [response_text(r) for r in answered]
    section: dict[str, object] = {}
    if ctx.tag:
        counts = tag_distribution(ctx.records, ctx.tag)
        section["tag"] = ctx.tag
        section["distribution"] = counts
        ctx.charts["categories"] = counts
        values = list(counts.values())
        ratio = max(values) / min(values) if values else 1.0
        section["imbalance_ratio"] = ratio
        if ratio > limits.max_imbalance_ratio:
            ctx.add("balance", "imbalanced_categories", "warning",
                    f"{ctx.tag} is imbalanced: largest / smallest = {ratio:.1f} (> {limits.max_imbalance_ratio})")  # fmt: skip
    if answers:
        shares = answer_shares(answers, ctx.answers_are_labels)
        section.update(shares)
        if shares["refusal_share"] > limits.max_refusal_share:
            refusing = [r for r, a in zip(answered, answers, strict=True) if a and is_refusal(a)]
            ctx.add("balance", "many_refusals", "warning",
                    f"{shares['refusal_share']:.0%} of answers are refusals (> {limits.max_refusal_share:.0%}); the model will learn to refuse",
                    count=len(refusing), items=[where(r) for r in refusing[:MAX_ITEMS]])  # fmt: skip
        if (
            shares.get("boilerplate_share", 0.0) > limits.max_boilerplate_share
            and shares.get("most_common_count", 0) > 1
        ):
            top = Counter(normalise_text(a) for a in answers if a).most_common(1)[0][0]
            same = [r for r, a in zip(answered, answers, strict=True) if a and normalise_text(a) == top]
            ctx.add("balance", "boilerplate_answer", "warning",
                    f"{shares['boilerplate_share']:.0%} of answers are the same text: \"{shares['most_common_answer']}\"",
                    count=len(same), items=[where(r) for r in same[:MAX_ITEMS]])  # fmt: skip
    ctx.report["balance"] = section


def production(ctx: CheckContext) -> None:
    if ctx.production is None:
        return
    from tuneloop.data.production import production_match

    limits = ctx.settings.production_match
    result = production_match(
        ctx.records, ctx.production, limits, use_embeddings=ctx.use_embeddings, tag=ctx.tag
    )
    ctx.report["production_match"] = result
    share = result["uncovered_share"]
    severity = (
        "error"
        if share > limits.fail_uncovered_share
        else "warning"
        if share > limits.warn_uncovered_share
        else None
    )
    if severity:
        ctx.add("production_match", "production_not_covered", severity,
                f"{share:.0%} of production inputs have no similar training prompt (similarity < {result['threshold']})",
                count=result["uncovered"], items=result["uncovered_examples"])  # fmt: skip
    for row in result.get("categories", []):
        if abs(row["delta"]) > 0.15:
            ctx.add("production_match", "category_shift", "warning",
                    f"{ctx.tag} '{row['category']}': {row['production_share']:.0%} of production vs {row['train_share']:.0%} of training")  # fmt: skip


def sensitive(ctx: CheckContext) -> None:
    settings = ctx.settings.sensitive
    if not settings.enabled:
        return
    findings = scan_rows(ctx.loaded.rows, settings)
    by_kind: dict[str, int] = {}
    for finding in findings:
        by_kind[finding.kind] = by_kind.get(finding.kind, 0) + 1
    ctx.report["sensitive"] = {
        "total": len(findings),
        "by_kind": by_kind,
        "items": [f.to_dict() for f in findings[:200]],
    }
    for category, code in (("secret", "secrets_found"), ("pii", "pii_found")):
        group = [f for f in findings if f.category == category]
        if not group:
            continue
        blocking = [
            f
            for f in group
            if f.kind in settings.block
            or (category == "secret" and f.kind == "high_entropy" and "token" in settings.block)
        ]
        kinds = sorted({f.kind for f in group})
        ctx.add("sensitive", code, "error" if blocking else "warning",
                f"{len(group)} {'secrets' if category == 'secret' else 'personal data'} found ({', '.join(kinds)}); "
                "`tuneloop data redact` writes a redacted copy", count=len(group),
                items=[f.to_dict() for f in group[:MAX_ITEMS]])  # fmt: skip


def contamination(ctx: CheckContext) -> None:
    if ctx.holdout is None:
        return
    settings = ctx.settings.contamination
    held = ctx.holdout.records
    found, overlaps = holdout_contamination(ctx.records, held, settings, ctx.settings.dedup, ctx.index)
    share = len(found) / len(held) if held else 0.0
    ctx.report["contamination"] = {
        "holdout_records": len(held),
        "contaminated": len(found),
        "share": share,
        "ngram": settings.ngram,
        "mean_ngram_overlap": sum(overlaps) / len(overlaps) if overlaps else 0.0,
        "items": [
            {**where(held[c.holdout_index]), "reason": c.reason, "train": where(ctx.records[c.train_index]) if c.train_index is not None else None,
             "text": preview(prompt_text(held[c.holdout_index]) or full_text(held[c.holdout_index]))}
            for c in found[:MAX_ITEMS]
        ],
    }  # fmt: skip
    if found:
        severity = "error" if share > settings.max_share else "warning"
        ctx.add("contamination", "holdout_contaminated", severity,
                f"{len(found)} of {len(held)} holdout examples ({share:.0%}) also appear in training; evaluation would measure memory",
                count=len(found), items=ctx.report["contamination"]["items"])  # fmt: skip


def estimate(ctx: CheckContext) -> None:
    from tuneloop.data.estimate import count_parameters, estimate_training, measure_cpu_throughput

    if ctx.tokens is None:
        return
    summary = ctx.tokens.summary()
    dropped = set(ctx.tokens.overlength) if ctx.settings.overlength == "drop" else set()
    kept = [e for i, e in enumerate(ctx.tokens.examples) if e is not None and i not in dropped]
    params = count_parameters(ctx.model_dir) if ctx.model_dir else None
    throughput = None
    if ctx.estimate_time and ctx.model_dir is not None:
        length = int(min(ctx.max_length, max(32, summary["tokens"].get("p95", 128))))
        throughput = measure_cpu_throughput(ctx.model_dir, sequence_length=length)
    ctx.report["estimate"] = estimate_training(
        processed_tokens=sum(e.processed for e in kept),
        loss_tokens=sum(e.assistant for e in kept),
        epochs=ctx.epochs or derive_epochs(len(kept), derive_examples_per_step(len(kept))),
        adapter=ctx.adapter,
        num_parameters=params,
        cpu_tokens_per_second=throughput,
    )
