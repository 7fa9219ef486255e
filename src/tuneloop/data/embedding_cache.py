"""Prompt embeddings kept between data checks of the same texts (the project's cache).

Embedding is most of a data check's time on small data (1,500 short prompts: about 8 s on two idle
cores, plus the embedder's load): a re-check of unchanged data, the common case in CI and while
editing other parts of a project, reads the vectors back instead. The key is the sha256 of the
embedder, the batch size and every text, so any change recomputes; files are written atomically.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from tuneloop.data.embeddings import embed

EMBEDDER = "all-MiniLM-L6-v2"


def cache_key(texts: list[str], batch_size: int) -> str:
    digest = hashlib.sha256(f"{EMBEDDER}\n{batch_size}\n{len(texts)}\n".encode())
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little") + data)  # length-prefixed: no ambiguous joins
    return digest.hexdigest()


def cached_embed(texts: list[str], batch_size: int, cache_dir: Path | None) -> np.ndarray:
    """:func:`~tuneloop.data.embeddings.embed`, read from / written to ``cache_dir`` when given."""
    if cache_dir is None or not texts:
        return embed(texts, batch_size)
    path = cache_dir / "embeddings" / f"{cache_key(texts, batch_size)}.npy"
    if path.exists():
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape == (len(texts), 384):
                return vectors
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed and replaced
    vectors = embed(texts, batch_size)
    from tuneloop.store import atomic_write_bytes

    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return vectors
