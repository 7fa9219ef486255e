"""Diversity: lexical (distinct-n, compression) on a fixed-size sample, semantic (embedding clusters).

Distinct-n and compression ratios shrink as a corpus grows, so both are measured on a deterministic
sample of about 20,000 words of answers: the numbers then compare across datasets of any size. Each
record adds at most ``data.diversity.max_words_per_record`` words, so one long outlier cannot decide
them (the data check also leaves out the runaway answers it reports one by one).
Clusters are k-means on MiniLM embeddings with k chosen by the silhouette score; the 2-D map is a
PCA projection of the same embeddings.
"""

from __future__ import annotations

import gzip
import math
import random
from collections import Counter
from typing import Any

import numpy as np

from tuneloop.data.text import words

SAMPLE_WORDS = 20_000


def sample_indices(count: int, limit: int, seed: int = 0) -> list[int]:
    """At most ``limit`` indices out of ``count``, deterministic and in order."""
    if count <= limit:
        return list(range(count))
    return sorted(random.Random(seed).sample(range(count), limit))


def word_sample(
    texts: list[str], budget: int = SAMPLE_WORDS, seed: int = 0, per_text: int | None = None
) -> list[list[str]]:
    """Token lists of randomly ordered texts until ``budget`` words are collected.

    ``per_text`` caps each text's contribution (its first words), so that no single text, however
    long, decides the figures measured on the sample."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    sample, used = [], 0
    for index in order:
        tokens = words(texts[index])[:per_text]
        if not tokens:
            continue
        sample.append(tokens)
        used += len(tokens)
        if used >= budget:
            break
    return sample


def distinct_n(token_lists: list[list[str]], n: int) -> float:
    """Distinct n-grams / all n-grams (n-grams do not cross texts)."""
    grams = [tuple(tokens[i : i + n]) for tokens in token_lists for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def compression_ratio(token_lists: list[list[str]]) -> float:
    """Raw size / gzip size of the sample: higher means more repetitive."""
    raw = "\n".join(" ".join(tokens) for tokens in token_lists).encode()
    return len(raw) / len(gzip.compress(raw, compresslevel=6)) if raw else 0.0


def lexical_diversity(texts: list[str], per_text: int | None = None) -> dict[str, float]:
    """Distinct-1/2 and gzip ratio of a word sample of ``texts`` (each adding at most ``per_text`` words)."""
    sample = word_sample(texts, per_text=per_text)
    return {
        "sample_words": sum(len(t) for t in sample),
        "distinct_1": distinct_n(sample, 1),
        "distinct_2": distinct_n(sample, 2),
        "compression_ratio": compression_ratio(sample),
    }


def normalised_entropy(sizes: list[int]) -> float:
    """Shannon entropy of the size distribution divided by log(k): 1 = perfectly even."""
    total = sum(sizes)
    if len(sizes) < 2 or not total:
        return 1.0
    entropy = -sum(s / total * math.log(s / total) for s in sizes if s)
    return entropy / math.log(len(sizes))


def mean_pairwise_similarity(vectors: np.ndarray) -> float:
    """Mean cosine similarity over all distinct pairs of normalised vectors, without the n x n matrix."""
    count = len(vectors)
    if count < 2:
        return 0.0
    total = vectors.sum(axis=0)
    return float((total @ total - count) / (count * (count - 1)))


K_CANDIDATES = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20)
"""The k tried: every small k, then a coarser grid (the silhouette curve is flat there, and each fit costs)."""


def embedding_clusters(vectors: np.ndarray, seed: int = 0, max_k: int = 20) -> dict[str, Any]:
    """k-means with the silhouette-best k of :data:`K_CANDIDATES` up to max_k, its size statistics, and
    a 2-D PCA map.

    One k-means++ start per k, on float64 vectors: three starts and float32 (which sklearn up-casts
    chunk by chunk for every distance) took 4.5x as long on 1,500 prompts for the same chosen k."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    vectors = np.asarray(vectors, dtype=np.float64)
    count = len(vectors)
    if count < 10:
        return {
            "clusters": 1,
            "sizes": [count],
            "entropy": 1.0,
            "largest_share": 1.0,
            "labels": [0] * count,
            "map": [],
        }
    best: tuple[float, int, np.ndarray] | None = None
    for k in (k for k in K_CANDIDATES if k <= min(max_k, count // 5)):
        labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(vectors)
        score = float(silhouette_score(vectors, labels, sample_size=min(count, 2000), random_state=seed))
        if best is None or score > best[0]:
            best = (score, k, labels)
    if best is None:
        labels, score, k = np.zeros(count, dtype=int), 0.0, 1
    else:
        score, k, labels = best
    sizes = sorted(Counter(labels.tolist()).values(), reverse=True)
    points = (
        PCA(n_components=2, random_state=seed).fit_transform(vectors) if count >= 3 else np.zeros((count, 2))
    )
    return {
        "clusters": k,
        "silhouette": score,
        "sizes": sizes,
        "entropy": normalised_entropy(sizes),
        "largest_share": sizes[0] / count,
        "labels": labels.tolist(),
        "map": [(float(x), float(y)) for x, y in points],
    }
