"""The vectorised MinHash equals datasketch's, and LSH finds what it should."""

from __future__ import annotations

import random

import numpy as np
from datahelpers import vocabulary
from datasketch import MinHash, MinHashLSH

from tuneloop.data.minhash import (
    band_shape,
    jaccard,
    shingle_hash,
    shingle_sets,
    shingles,
    signatures,
    similar_pairs,
)


def _docs(count: int, seed: int = 0) -> list[list[str]]:
    rng, vocab = random.Random(seed), vocabulary(800)
    return [[rng.choice(vocab) for _ in range(rng.randint(0, 60))] for _ in range(count)]


def test_signatures_are_bit_identical_to_datasketch() -> None:
    docs = [*_docs(150), ["one"], ["two", "words"], []]
    sets = shingle_sets(docs, 3)
    ours = signatures(sets, num_perm=64, seed=7)
    for index, tokens in enumerate(docs):
        reference = MinHash(num_perm=64, seed=7, hashfunc=shingle_hash)
        reference.update_batch(shingles(tokens, 3))
        assert np.array_equal(reference.hashvalues, ours[index]), index


def test_short_texts_are_one_shingle() -> None:
    sets = shingle_sets([["a", "b"], ["a", "b", "c"]], 3)
    assert len(sets.of(0)) == 1 and len(sets.of(1)) == 1
    assert sets.of(0)[0] == shingle_hash(b"a b")


def test_band_shape_catches_pairs_at_the_threshold() -> None:
    bands, rows = band_shape(0.8, 128)
    assert bands * rows <= 128
    assert 1 - (1 - 0.8**rows) ** bands >= 0.99


def test_near_duplicates_found_and_confirmed_by_exact_jaccard() -> None:
    rng = random.Random(1)
    vocab = vocabulary(800)
    base = [[rng.choice(vocab) for _ in range(80)] for _ in range(300)]
    docs = [*base]
    truth = set()
    for source in range(0, 300, 10):
        copy = list(base[source])
        copy[rng.randrange(80)] = "changed"
        truth.add((source, len(docs)))
        docs.append(copy)
    sets = shingle_sets(docs, 3)
    found = similar_pairs(sets.of, signatures(sets), 0.8)
    assert {(i, j) for i, j, _ in found} == truth
    for i, j, similarity in found:
        assert similarity == jaccard(sets.of(i), sets.of(j)) >= 0.8


def test_agrees_with_plain_datasketch_lsh_on_which_pairs_are_candidates() -> None:
    docs = _docs(120, seed=3)
    docs += [[*d, "tail"] for d in docs[:20] if len(d) > 30]
    sets = shingle_sets(docs, 3)
    ours = {(i, j) for i, j, _ in similar_pairs(sets.of, signatures(sets), 0.8)}
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    hashes = []
    for index, tokens in enumerate(docs):
        m = MinHash(num_perm=128, hashfunc=shingle_hash)
        m.update_batch(shingles(tokens, 3))
        hashes.append(m)
        lsh.insert(index, m)
    theirs = set()
    for index, m in enumerate(hashes):
        for other in lsh.query(m):
            if other != index and jaccard(sets.of(index), sets.of(other)) >= 0.8:
                theirs.add((min(index, other), max(index, other)))
    assert theirs <= ours  # same confirmation rule; our bands are tuned for higher recall


def test_index_built_in_parts_equals_the_index_built_at_once(tmp_path) -> None:
    import numpy as np
    from datahelpers import clean_rows, write_jsonl

    from tuneloop.config.data import DedupSettings
    from tuneloop.data import load_records
    from tuneloop.data.index import _build, _concat
    from tuneloop.data.parallel import map_ranges

    records = load_records([write_jsonl(tmp_path / "d.jsonl", clean_rows(90))])
    whole = _build(records, DedupSettings())
    parts = _concat(
        [_build(records[:40], DedupSettings()), _build(records[40:], DedupSettings())], DedupSettings()
    )
    assert parts.content_keys == whole.content_keys and parts.word_counts == whole.word_counts
    for name in ("prompts", "answers"):
        assert np.array_equal(getattr(parts, name).hashes, getattr(whole, name).hashes)
        assert np.array_equal(getattr(parts, name).offsets, getattr(whole, name).offsets)
    assert np.array_equal(parts.full_sigs(list(range(90))), whole.full_sigs(list(range(90))))
    assert map_ranges(lambda a, b: list(range(a, b)), 10, min_items=2) in (
        [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]],
        [list(range(10))],
    )
