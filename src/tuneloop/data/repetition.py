"""Degenerate repetition inside one text: a phrase repeated until it fills the answer.

A model trained on "Eat a banana! Eat a banana! ..." learns to loop. The measure is the share of a
text's words covered by repeated word n-grams, counting every occurrence after the first (the
"duplicate n-gram fraction" of the Gopher quality filters, per text): a phrase looped 2,000 times
scores 1.0, an answer pasted twice just under 0.5, natural prose a few percent.
"""

from __future__ import annotations

from tuneloop.data.records import Record
from tuneloop.data.text import words


def repeated_share(tokens: list[str], n: int) -> float:
    """Share of ``tokens`` covered by the second and later occurrences of any word n-gram."""
    if len(tokens) < n:
        return 0.0
    # every covered position repeats an earlier word, so texts without repeated words exit early
    if len(set(tokens)) == len(tokens):
        return 0.0
    seen: set[tuple[str, ...]] = set()
    covered = bytearray(len(tokens))
    grams = zip(*(tokens[i:] for i in range(n)), strict=False)
    for start, gram in enumerate(grams):
        if gram in seen:
            covered[start : start + n] = b"\x01" * n
        else:
            seen.add(gram)
    return sum(covered) / len(tokens)


def trained_texts(record: Record) -> list[str]:
    """The texts a record teaches the model to write: assistant turns (chosen ones), or the document."""
    if record.kind == "text":
        return [record.text]
    messages = record.chosen if record.kind == "preference" else record.messages
    return [m.content for m in messages if m.role == "assistant" and m.content]


def worst_repetition(record: Record, n: int, min_words: int) -> tuple[float, int]:
    """The highest repeated share over the record's trained texts, and that text's word count."""
    worst, length = 0.0, 0
    for text in trained_texts(record):
        tokens = words(text)
        if len(tokens) < min_words:
            continue
        share = repeated_share(tokens, n)
        if share > worst:
            worst, length = share, len(tokens)
    return worst, length
