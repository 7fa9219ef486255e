"""Near-duplicate search: MinHash signatures for many texts at once, LSH banding, exact confirmation.

Signatures are bit-identical to datasketch's ``MinHash`` (scheme ``affine32``, the default since
datasketch 2.0) fed the same shingles through :func:`shingle_hash`; a test checks this. What is
faster than datasketch is only *how* they are computed: shingle hashes for all texts in one numpy
array, and every permutation applied to a block of texts at once, instead of one Python object and
one ``update_batch`` call per text.

Shingles are word n-grams (default 3) of the normalised text; a text with fewer words than n is one
shingle of all its words (so it can only match exactly). LSH bands are chosen so a pair exactly at
the threshold becomes a candidate with probability >= 0.99, then every candidate is confirmed with
the exact Jaccard similarity of the two shingle sets: no estimator noise in what is reported.
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

FNV_OFFSET = np.uint32(2166136261)
FNV_PRIME = np.uint32(16777619)
_BLOCK_SHINGLES = 1 << 16  # shingles per block: num_perm x 256 KiB of temporaries per thread


def word_hash(word: str) -> int:
    return zlib.crc32(word.encode("utf-8"))


def shingle_hash(shingle: bytes) -> int:
    """The 32-bit hash of one shingle (words joined by single spaces); usable as datasketch's ``hashfunc``."""
    h = int(FNV_OFFSET)
    for word in shingle.decode("utf-8").split(" "):
        h = ((h ^ word_hash(word)) * int(FNV_PRIME)) & 0xFFFFFFFF
    return h


def shingles(tokens: Sequence[str], n: int) -> list[bytes]:
    """The shingles of one token list, as :func:`shingle_hash` expects them (for datasketch)."""
    if not tokens:
        return []
    if len(tokens) < n:
        return [" ".join(tokens).encode()]
    return [" ".join(tokens[i : i + n]).encode() for i in range(len(tokens) - n + 1)]


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer, as datasketch applies it before its affine permutations."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a, b) for ``num_perm`` and ``seed``."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


@dataclass
class ShingleSets:
    """Shingle hashes of many texts in one array: text ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``."""

    hashes: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of(self, index: int) -> np.ndarray:
        return self.hashes[self.offsets[index] : self.offsets[index + 1]]


def shingle_sets(token_lists: Sequence[Sequence[str]], n: int) -> ShingleSets:
    """Hash the word n-grams of every token list, vectorised over all texts."""
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    # hash each distinct word once; map() over a dict lookup runs in C, a generator would not
    flat_words = list(itertools.chain.from_iterable(token_lists))
    table = {word: word_hash(word) for word in set(flat_words)}
    flat = np.fromiter(map(table.__getitem__, flat_words), dtype=np.uint32, count=len(flat_words))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else np.zeros(0, np.int64)
    window = np.full(max(len(flat) - n + 1, 0), FNV_OFFSET, dtype=np.uint32)
    for k in range(n):
        window = (window ^ flat[k : k + len(window)]) * FNV_PRIME
    counts = np.where(lengths >= n, lengths - n + 1, np.minimum(lengths, 1))
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    hashes = np.empty(int(offsets[-1]), dtype=np.uint32)
    long_docs = np.nonzero(lengths >= n)[0]
    if len(long_docs):
        # text d's k-th shingle is the window starting at word starts[d] + k
        targets = _ranges(offsets, long_docs)
        shift = np.repeat(starts[long_docs] - offsets[long_docs], counts[long_docs])
        hashes[targets] = window[targets + shift]
    for d in np.nonzero((lengths > 0) & (lengths < n))[0]:
        hashes[offsets[d]] = shingle_hash(" ".join(token_lists[int(d)]).encode())
    return ShingleSets(hashes, offsets)


def _ranges(offsets: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(offsets[d], offsets[d+1])`` for every d, without a Python loop."""
    lo, hi = offsets[docs], offsets[docs + 1]
    sizes = hi - lo
    index = np.arange(int(sizes.sum()), dtype=np.int64)
    shift = np.repeat(lo - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
    return index + shift


def _blocks(sets: ShingleSets) -> list[np.ndarray]:
    """Consecutive non-empty texts grouped into blocks of about _BLOCK_SHINGLES shingles."""
    nonempty = np.nonzero(np.diff(sets.offsets) > 0)[0]
    ends = sets.offsets[nonempty + 1]
    blocks, start = [], 0
    while start < len(nonempty):
        first = sets.offsets[nonempty[start]]
        stop = max(int(np.searchsorted(ends, first + _BLOCK_SHINGLES, side="right")), start + 1)
        blocks.append(nonempty[start:stop])
        start = stop
    return blocks


def signatures(sets: ShingleSets, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """MinHash signatures (texts x num_perm, uint32); an empty text gets all-max values like datasketch.

    Blocks run on a thread per core: numpy releases the GIL inside its loops, so they overlap."""
    a, b = permutations(num_perm, seed)
    out = np.full((len(sets), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    mixed = _fmix32(sets.hashes)

    def run(docs: np.ndarray) -> None:
        lo, hi = sets.offsets[docs[0]], sets.offsets[docs[-1] + 1]
        permuted = a[:, None] * mixed[None, lo:hi] + b[:, None]  # uint32 wrap-around is the mod 2^32
        # the docs of a block are consecutive non-empty texts, so their offsets index the block directly
        out[docs] = np.minimum.reduceat(permuted, sets.offsets[docs] - lo, axis=1).T

    blocks = _blocks(sets)
    workers = min(len(blocks), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, blocks))
    else:
        for docs in blocks:
            run(docs)
    return out


def band_shape(threshold: float, num_perm: int, recall_at_threshold: float = 0.99) -> tuple[int, int]:
    """(bands, rows): the most rows per band whose candidate probability at ``threshold`` is still high."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall_at_threshold:
            return bands, rows
    return num_perm, 1


def candidate_pairs(sigs: np.ndarray, threshold: float) -> np.ndarray:
    """Pairs (i < j) sharing at least one LSH band, as an (m, 2) int64 array without repeats."""
    count, num_perm = sigs.shape
    if count < 2:
        return np.zeros((0, 2), dtype=np.int64)
    bands, rows = band_shape(threshold, num_perm)
    rng = np.random.default_rng(0)
    multipliers = rng.integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
    found = []
    for band in range(bands):
        cols = sigs[:, band * rows : (band + 1) * rows].astype(np.uint64)
        keys = (cols * multipliers).sum(axis=1)  # wrap-around sum: a 64-bit key per band
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same = np.concatenate(([False], sorted_keys[1:] == sorted_keys[:-1]))
        if not same.any():
            continue
        run_start = np.maximum.accumulate(np.where(~same, np.arange(count), 0))
        members = np.nonzero(same)[0]
        first, other = order[run_start[members]], order[members]
        found.append(np.stack([np.minimum(first, other), np.maximum(first, other)], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    return np.unique(pairs, axis=0)


def jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle-hash arrays (treated as sets)."""
    a, b = np.unique(left), np.unique(right)
    if not len(a) and not len(b):
        return 1.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)


def similar_pairs(
    shingles_of: Callable[[int], np.ndarray], sigs: np.ndarray, threshold: float
) -> list[tuple[int, int, float]]:
    """Confirmed near-duplicate pairs (i, j, exact Jaccard >= threshold); ``shingles_of(i)`` gives text
    i's shingle hashes (a :class:`ShingleSets`' ``of`` method, or a union of several)."""
    unique_cache: dict[int, np.ndarray] = {}

    def uniq(index: int) -> np.ndarray:
        if index not in unique_cache:
            unique_cache[index] = np.unique(shingles_of(index))
        return unique_cache[index]

    confirmed = []
    for i, j in candidate_pairs(sigs, threshold).tolist():
        a, b = uniq(i), uniq(j)
        if not len(a) or not len(b):
            continue
        shared = len(np.intersect1d(a, b, assume_unique=True))
        similarity = shared / (len(a) + len(b) - shared)
        if similarity >= threshold:
            confirmed.append((i, j, similarity))
    return confirmed
