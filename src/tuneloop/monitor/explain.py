"""What is new in production: inputs with no close training neighbour, grouped into clusters.

A drift statistic says *that* production moved; these say *where*. Each production input's closest
training input is found by cosine similarity of MiniLM embeddings (the data stage's
:func:`~tuneloop.data.embeddings.max_similarity`, as ``data check``'s production match uses); inputs
below ``novel_similarity`` are novel, and k-means groups them into a few clusters, each described by
its size, its most representative inputs and the words that set it apart from training. These are
the first candidates for new training data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tuneloop.data.embeddings import max_similarity
from tuneloop.data.text import preview, words

MAX_CLUSTERS = 5
EXAMPLES_PER_CLUSTER = 3


@dataclass(frozen=True)
class NovelCluster:
    size: int
    share: float
    """Of the whole production window."""
    examples: list[str]
    """The inputs closest to the cluster's centre."""
    distinctive_words: list[str]
    """Its commonest words that the reference never uses."""
    nearest_training_similarity: float
    """Median similarity of its inputs to their closest training input."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Novelty:
    threshold: float
    novel: int
    share: float
    median_similarity: float
    clusters: list[NovelCluster]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"clusters": [c.to_dict() for c in self.clusters]}


def novel_inputs(
    production_texts: list[str],
    production_vectors: np.ndarray,
    reference_texts: list[str],
    reference_vectors: np.ndarray,
    *,
    threshold: float,
    seed: int = 0,
) -> Novelty:
    """The production inputs without a close training neighbour, clustered."""
    best, _ = max_similarity(production_vectors, reference_vectors)
    novel = np.flatnonzero(best < threshold)
    clusters = _clusters(
        [production_texts[i] for i in novel], production_vectors[novel], best[novel], reference_texts,
        total=len(production_texts), seed=seed,
    )  # fmt: skip
    return Novelty(
        threshold=threshold,
        novel=len(novel),
        share=float(len(novel) / len(production_texts)) if production_texts else 0.0,
        median_similarity=float(np.median(best)) if len(best) else 0.0,
        clusters=clusters,
    )


def _clusters(
    texts: list[str],
    vectors: np.ndarray,
    similarity: np.ndarray,
    reference_texts: list[str],
    *,
    total: int,
    seed: int,
) -> list[NovelCluster]:
    if not texts:
        return []
    from sklearn.cluster import KMeans

    count = max(1, min(MAX_CLUSTERS, len(texts) // 3))
    labels = (
        np.zeros(len(texts), dtype=int)
        if count == 1
        else KMeans(n_clusters=count, n_init=4, random_state=seed).fit_predict(vectors)
    )
    known = {token for text in reference_texts for token in words(text)}
    found = []
    for label in range(count):
        members = np.flatnonzero(labels == label)
        centre = vectors[members].mean(axis=0)
        closest = members[np.argsort(-(vectors[members] @ centre))][:EXAMPLES_PER_CLUSTER]
        new_words = Counter(t for i in members for t in set(words(texts[i])) if t not in known and len(t) > 2)
        found.append(
            NovelCluster(
                size=len(members),
                share=float(len(members) / total),
                examples=[preview(texts[i], 160) for i in closest],
                distinctive_words=[word for word, _ in new_words.most_common(8)],
                nearest_training_similarity=float(np.median(similarity[members])),
            )
        )
    return sorted(found, key=lambda cluster: -cluster.size)
