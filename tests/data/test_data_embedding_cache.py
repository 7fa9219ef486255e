"""Prompt embeddings of unchanged texts are read back from the project's cache, never stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tuneloop.data import embedding_cache


def test_unchanged_texts_are_embedded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
        calls.append(texts)
        return np.full((len(texts), 384), float(len(calls)), dtype=np.float32)

    monkeypatch.setattr(embedding_cache, "embed", fake_embed)
    first = embedding_cache.cached_embed(["a", "b"], 64, tmp_path)
    again = embedding_cache.cached_embed(["a", "b"], 64, tmp_path)
    assert len(calls) == 1 and np.array_equal(first, again)
    embedding_cache.cached_embed(["a", "c"], 64, tmp_path)  # any changed text recomputes
    embedding_cache.cached_embed(["ab"], 64, tmp_path)  # no ambiguous joins
    embedding_cache.cached_embed(["a", "b"], 32, tmp_path)  # another batch size, another key
    assert len(calls) == 4
    path = tmp_path / "embeddings" / f"{embedding_cache.cache_key(['a', 'b'], 64)}.npy"
    path.write_bytes(b"not numpy")  # a damaged file is recomputed and replaced
    assert embedding_cache.cached_embed(["a", "b"], 64, tmp_path)[0, 0] == 5.0
    assert embedding_cache.cached_embed(["a", "b"], 64, tmp_path)[0, 0] == 5.0 and len(calls) == 5
    assert embedding_cache.cached_embed(["x"], 64, None).shape == (1, 384) and len(calls) == 6
