"""Conflicts: the same (or a near-identical) input taught with answers that disagree.

Inputs are grouped by exact normalised prompt and by MinHash near-duplicate prompts. Inside a group
the answers are compared the way their shape allows:

- *labels* (classification data, :func:`tuneloop.data.labels.answers_are_labels`, e.g. ``billing``):
  any difference is a conflict;
- *JSON answers*: fields whose values form a small vocabulary (``category``, ``priority``) are
  labels, compared exactly; free-text fields (``reply``) are not compared;
- *free text*: a conflict when the cosine distance of the answers exceeds a threshold (MiniLM
  embeddings, or TF-IDF without them, with its own threshold because lexical distance runs higher);
- differing *tags* (e.g. ``category``) on the same input are a conflict too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tuneloop.config.data import ConflictSettings, DedupSettings, LabelSettings
from tuneloop.data.dedup import UnionFind
from tuneloop.data.index import TextIndex, build_index
from tuneloop.data.labels import answers_are_labels
from tuneloop.data.minhash import similar_pairs
from tuneloop.data.records import Record
from tuneloop.data.text import normalise_text, response_text

TFIDF_MIN_DISTANCE = 0.8
"""Free-text answers disagree above this TF-IDF cosine distance (used without embeddings)."""
_LABEL_MAX_CHARS = 40


@dataclass
class Conflict:
    """Examples with the same or near-identical input and disagreeing answers."""

    indices: list[int]
    kind: str
    """``label``, ``json-label``, ``free-text`` or ``tag``."""
    reason: str


def _json_label_fields(answers: list[str], max_values: int) -> tuple[list[dict[str, Any] | None], list[str]]:
    parsed: list[dict[str, Any] | None] = []
    for answer in answers:
        value = None
        if answer.lstrip().startswith("{"):
            try:
                value = json.loads(answer)
            except (json.JSONDecodeError, ValueError):
                value = None
        parsed.append(value if isinstance(value, dict) else None)
    objects = [p for p in parsed if p is not None]
    if len(objects) < 0.9 * len(answers) or not objects:
        return parsed, []
    fields = []
    for key in sorted({k for obj in objects for k in obj}):
        values = {str(obj.get(key)) for obj in objects if isinstance(obj.get(key), str | int | float | bool)}
        if values and len(values) <= max_values and all(len(v) <= _LABEL_MAX_CHARS for v in values):
            fields.append(key)
    return parsed, fields


def free_text_parts(answers: list[str], max_values: int) -> list[str]:
    """Answers without their label parts: for JSON answers the free-text fields (``reply``), else as is."""
    parsed, fields = _json_label_fields([a for a in answers if a], max_values)
    if not fields:
        return answers
    return [" ".join(str(v) for k, v in obj.items() if k not in fields) for obj in parsed if obj is not None]


def prompt_groups(records: list[Record], index: TextIndex) -> list[list[int]]:
    """Groups of 2+ examples whose prompts are identical after normalisation or near duplicates."""
    uf = UnionFind(len(records))
    first: dict[str, int] = {}
    for position in range(len(records)):
        key = index.prompt_keys[position]
        if key is None:
            continue
        if key in first:
            uf.union(first[key], position)
        else:
            first[key] = position
    distinct = sorted(first.values())
    sigs = index.prompt_sigs[distinct]
    for i, j, _ in similar_pairs(lambda k: index.prompts.of(distinct[k]), sigs, index.settings.threshold):
        uf.union(distinct[i], distinct[j])
    return uf.groups()


def find_conflicts(
    records: list[Record],
    settings: ConflictSettings,
    dedup: DedupSettings,
    *,
    use_embeddings: bool,
    index: TextIndex | None = None,
    labels: bool | None = None,
) -> list[Conflict]:
    """Every conflict group (an example appears in at most one conflict).

    ``labels``: whether the answers are classification labels (None: decided with the default
    :class:`~tuneloop.config.data.LabelSettings`)."""
    groups = prompt_groups(records, index or build_index(records, dedup))
    if not groups:
        return []
    answers = [response_text(r) for r in records]
    conflicts: list[Conflict] = []
    by_tag = _tag_conflicts(records, groups)
    conflicts.extend(by_tag)
    done = {i for c in by_tag for i in c.indices}
    remaining = [g for g in groups if not done.intersection(g)]
    all_answers = [a for a in answers if a]
    if labels is None:
        labels = answers_are_labels(all_answers, LabelSettings())
    if labels:
        conflicts.extend(_label_conflicts(remaining, answers))
        return conflicts
    _, fields = _json_label_fields(all_answers, settings.max_label_values)
    if fields:
        conflicts.extend(_json_conflicts(remaining, answers, fields))
        return conflicts
    conflicts.extend(_free_text_conflicts(remaining, answers, settings, use_embeddings))
    return conflicts


def _tag_conflicts(records: list[Record], groups: list[list[int]]) -> list[Conflict]:
    out = []
    for group in groups:
        for name in sorted({k for i in group for k in records[i].tags}):
            # a missing tag is not a disagreement; two different values are
            values = sorted({records[i].tags[name] for i in group if name in records[i].tags})
            if len(values) > 1:
                out.append(Conflict(group, "tag", f"{name} differs: {' vs '.join(values)}"))
                break
    return out


def _label_conflicts(groups: list[list[int]], answers: list[str]) -> list[Conflict]:
    out = []
    for group in groups:
        values = sorted({normalise_text(answers[i]) for i in group})
        if len(values) > 1:
            out.append(Conflict(group, "label", f"labels differ: {' vs '.join(values)}"))
    return out


def _json_conflicts(groups: list[list[int]], answers: list[str], fields: list[str]) -> list[Conflict]:
    out = []
    for group in groups:
        values: dict[str, set[str]] = defaultdict(set)
        for i in group:
            try:
                obj = json.loads(answers[i])
            except (json.JSONDecodeError, ValueError):
                continue
            if isinstance(obj, dict):
                for name in fields:
                    values[name].add(str(obj.get(name)))
        differing = [f"{name}: {' vs '.join(sorted(v))}" for name, v in values.items() if len(v) > 1]
        if differing:
            out.append(Conflict(group, "json-label", "; ".join(differing)))
    return out


def _free_text_conflicts(
    groups: list[list[int]], answers: list[str], settings: ConflictSettings, use_embeddings: bool
) -> list[Conflict]:
    from tuneloop.data.embeddings import cosine_rows, embed, tfidf_vectors

    # identical answers cannot disagree (exact duplicates are the common case): no vectors for them
    pairs = [
        (group[0], other)
        for group in groups
        for other in group[1:]
        if normalise_text(answers[other]) != normalise_text(answers[group[0]])
    ]
    if not pairs:
        return []
    needed = sorted({i for pair in pairs for i in pair})
    position = {index: row for row, index in enumerate(needed)}
    texts = [answers[i] for i in needed]
    if use_embeddings:
        vectors, limit, method = embed(texts), settings.min_output_distance, "embedding"
    else:
        vectors, limit, method = tfidf_vectors(texts), TFIDF_MIN_DISTANCE, "TF-IDF"
    left = vectors[[position[a] for a, _ in pairs]]
    right = vectors[[position[b] for _, b in pairs]]
    distances = 1.0 - cosine_rows(left, right)
    worst: dict[int, float] = {}
    for (first, _), distance in zip(pairs, distances.tolist(), strict=True):
        worst[first] = max(worst.get(first, 0.0), distance)
    out = []
    for group in groups:
        distance = worst.get(group[0], 0.0)
        if distance > limit:
            out.append(
                Conflict(
                    group, "free-text", f"answers differ ({method} cosine distance {distance:.2f} > {limit})"
                )
            )
    return out
