"""Per-record words, keys and MinHash signatures, computed once and shared by every check.

Each record is split into its *prompt* (non-system messages before the final answer) and its *answer*
(the final answer; the whole text for raw documents). Shingles never cross that boundary, so the
shingle set of the whole example is the union of the two, and its MinHash signature is simply the
element-wise minimum of the two signatures: duplicates (whole examples), conflicts (prompts) and
contamination (both) share one pass of hashing instead of three.

Exact keys hash the word sequence, so case, whitespace, punctuation and Unicode compatibility forms
(NFKC) do not make two examples different.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from tuneloop.config.data import DedupSettings
from tuneloop.data.minhash import ShingleSets, shingle_sets, signatures
from tuneloop.data.parallel import map_ranges
from tuneloop.data.records import Record
from tuneloop.data.text import prompt_text, response_text, words


def _key(*parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(" ".join(p) for p in parts).encode()).hexdigest()


@dataclass
class TextIndex:
    """Shingles, signatures and keys of ``count`` records (indices into the list it was built from)."""

    prompts: ShingleSets
    answers: ShingleSets
    prompt_sigs: np.ndarray
    answer_sigs: np.ndarray
    content_keys: list[str]
    prompt_keys: list[str | None]
    """None for records without a prompt (raw text)."""
    word_counts: list[int]
    settings: DedupSettings

    def full_shingles(self, index: int) -> np.ndarray:
        return np.concatenate((self.prompts.of(index), self.answers.of(index)))

    def full_sigs(self, indices: list[int] | np.ndarray) -> np.ndarray:
        return np.minimum(self.prompt_sigs[indices], self.answer_sigs[indices])


def build_index(records: list[Record], settings: DedupSettings) -> TextIndex:
    """Tokenize, shingle and sign every record once (large inputs: one forked process per core)."""
    parts = map_ranges(
        lambda start, stop: _build(records[start:stop], settings), len(records), min_items=20_000
    )
    return parts[0] if len(parts) == 1 else _concat(parts, settings)


def _concat(parts: list[TextIndex], settings: DedupSettings) -> TextIndex:
    def sets(which: str) -> ShingleSets:
        chunks = [getattr(p, which) for p in parts]
        offsets, shift = [np.zeros(1, dtype=np.int64)], 0
        for chunk in chunks:
            offsets.append(chunk.offsets[1:] + shift)
            shift += int(chunk.offsets[-1])
        return ShingleSets(np.concatenate([c.hashes for c in chunks]), np.concatenate(offsets))

    return TextIndex(
        prompts=sets("prompts"),
        answers=sets("answers"),
        prompt_sigs=np.vstack([p.prompt_sigs for p in parts]),
        answer_sigs=np.vstack([p.answer_sigs for p in parts]),
        content_keys=[k for p in parts for k in p.content_keys],
        prompt_keys=[k for p in parts for k in p.prompt_keys],
        word_counts=[n for p in parts for n in p.word_counts],
        settings=settings,
    )


def _build(records: list[Record], settings: DedupSettings) -> TextIndex:
    prompt_words = [words(prompt_text(r)) for r in records]
    answer_words = [words(response_text(r)) for r in records]
    content_keys = []
    for record, prompt, answer in zip(records, prompt_words, answer_words, strict=True):
        if record.kind == "preference":  # the rejected answer makes a different pair
            content_keys.append(
                _key(prompt, answer, words(record.rejected[-1].content if record.rejected else ""))
            )
        else:
            content_keys.append(_key(prompt, answer))
    prompts = shingle_sets(prompt_words, settings.shingle_words)
    answers = shingle_sets(answer_words, settings.shingle_words)
    return TextIndex(
        prompts=prompts,
        answers=answers,
        prompt_sigs=signatures(prompts, settings.num_perm, settings.seed),
        answer_sigs=signatures(answers, settings.num_perm, settings.seed),
        content_keys=content_keys,
        prompt_keys=[_key(p) if p else None for p in prompt_words],
        word_counts=[len(p) + len(a) for p, a in zip(prompt_words, answer_words, strict=True)],
        settings=settings,
    )
