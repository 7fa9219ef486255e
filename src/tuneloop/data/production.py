"""Production match: do the training inputs cover what production users actually ask?

The most common fine-tuning failure is data that fits its own distribution but not production's. For
each production input we find its most similar training prompt (cosine similarity of MiniLM
embeddings, or of TF-IDF vectors without them); inputs with no neighbour above the threshold are
*uncovered*. Per-category shares (production tags, else the nearest training example's tag) and
prompt lengths are compared too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuneloop.config.data import ProductionMatchSettings
from tuneloop.data.problems import ProblemLog
from tuneloop.data.readers import RawRow, read_rows
from tuneloop.data.records import Record
from tuneloop.data.text import preview, prompt_text, words

TFIDF_MIN_SIMILARITY = 0.3
"""Coverage threshold for TF-IDF vectors (lexical similarity of paraphrases runs lower than embeddings')."""
MAX_TRAIN_PROMPTS = 20_000


@dataclass
class ProductionInput:
    file: str
    line: int
    text: str
    tags: dict[str, str]


def _text_of(content: Any) -> Any:
    """A message's text; OpenAI's content parts (``[{"type": "text", "text": ...}]``) are joined."""
    if isinstance(content, list):
        parts = [str(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(parts) if parts else None
    return content


def prompt_of(value: Any) -> str | None:
    """The user-side text of one production row, whatever its shape."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return None
    for key in ("messages", "conversations"):
        if isinstance(value.get(key), list):
            turns = [m for m in value[key] if isinstance(m, dict)]
            last_answer = max(
                (i for i, m in enumerate(turns) if m.get("role", m.get("from")) in ("assistant", "gpt")),
                default=len(turns),
            )
            texts = [
                _text_of(m.get("content", m.get("value")))
                for m in turns[:last_answer]
                if m.get("role", m.get("from")) not in ("system",)
            ]
            return "\n".join(t for t in texts if isinstance(t, str)) or None
    for key in ("prompt", "input", "question", "query", "text", "instruction"):
        item = value.get(key)
        if isinstance(item, str):
            return item
        if isinstance(item, list | dict):
            return prompt_of({"messages": item} if isinstance(item, list) else item)
    return None


def load_production_inputs(
    path: Path, name: str, tag_fields: list[str], log: ProblemLog
) -> list[ProductionInput]:
    """Production inputs from any supported file; a .txt file holds one input per line."""
    if path.suffix.lower() == ".txt":
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        rows = [RawRow(name, i + 1, line) for i, line in enumerate(lines) if line.strip()]
    else:
        rows = list(read_rows(path, name, log, max_line_bytes=4 * 1024 * 1024))
    inputs = []
    for row in rows:
        text = prompt_of(row.value)
        if text is None or not text.strip():
            log.error(
                "missing_key",
                "no prompt found (expected messages, prompt, input, question or text)",
                name,
                row.line,
            )
            continue
        tags = {}
        if isinstance(row.value, dict):
            tags = {
                f: str(row.value[f]) for f in tag_fields if isinstance(row.value.get(f), str | int | float)
            }
        inputs.append(ProductionInput(name, row.line, text, tags))
    return inputs


def production_match(
    train: list[Record],
    production: list[ProductionInput],
    settings: ProductionMatchSettings,
    *,
    use_embeddings: bool,
    tag: str | None,
) -> dict[str, Any]:
    """Coverage, per-category and length comparison of production inputs against training prompts."""
    from scipy.stats import ks_2samp

    from tuneloop.data.diversity import sample_indices
    from tuneloop.data.embeddings import embed, max_similarity, tfidf_vectors

    chosen = [i for i in sample_indices(len(train), MAX_TRAIN_PROMPTS) if prompt_text(train[i]).strip()]
    train_texts = [prompt_text(train[i]) for i in chosen]
    prod_texts = [p.text for p in production]
    if use_embeddings:
        train_vectors, prod_vectors = embed(train_texts), embed(prod_texts)
        threshold, method = settings.min_similarity, "MiniLM embeddings"
    else:
        vectors = tfidf_vectors(train_texts + prod_texts)
        train_vectors, prod_vectors = vectors[: len(train_texts)], vectors[len(train_texts) :]
        threshold, method = TFIDF_MIN_SIMILARITY, "TF-IDF"
    best, nearest = max_similarity(prod_vectors, train_vectors)
    uncovered = [i for i, s in enumerate(best.tolist()) if s < threshold]
    result: dict[str, Any] = {
        "method": method,
        "threshold": threshold,
        "production_inputs": len(production),
        "training_prompts_compared": len(train_texts),
        "uncovered": len(uncovered),
        "uncovered_share": len(uncovered) / len(production) if production else 0.0,
        "median_best_similarity": float(np.median(best)) if len(best) else 0.0,
        "uncovered_examples": [
            {
                "file": production[i].file,
                "line": production[i].line,
                "similarity": float(best[i]),
                "text": preview(production[i].text),
            }
            for i in sorted(uncovered, key=lambda i: best[i])[:20]
        ],
    }
    train_lengths = [len(words(t)) for t in train_texts]
    prod_lengths = [len(words(t)) for t in prod_texts]
    result["length_words"] = {
        "train_median": float(np.median(train_lengths)) if train_lengths else 0.0,
        "production_median": float(np.median(prod_lengths)) if prod_lengths else 0.0,
        "train_p95": float(np.percentile(train_lengths, 95)) if train_lengths else 0.0,
        "production_p95": float(np.percentile(prod_lengths, 95)) if prod_lengths else 0.0,
        "ks_statistic": float(ks_2samp(train_lengths, prod_lengths).statistic)
        if train_lengths and prod_lengths
        else 0.0,
    }
    if tag:
        train_counts = Counter(train[i].tags.get(tag, "(none)") for i in chosen)
        prod_counts = Counter(
            p.tags.get(tag) or train[chosen[int(nearest[k])]].tags.get(tag, "(none)")
            for k, p in enumerate(production)
        )
        categories = sorted(set(train_counts) | set(prod_counts))
        result["categories"] = [
            {
                "category": c,
                "train_share": train_counts[c] / max(1, sum(train_counts.values())),
                "production_share": prod_counts[c] / max(1, sum(prod_counts.values())),
            }
            for c in categories
        ]
        for row in result["categories"]:
            row["delta"] = row["production_share"] - row["train_share"]
        result["category_source"] = "production tags where present, else the nearest training example's tag"
    return result
