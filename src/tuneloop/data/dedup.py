"""Exact and near-duplicate clusters, each with the example kept and why every other one would go.

Exact duplicates share the sha256 of their normalised words (:mod:`tuneloop.data.index`).
Near duplicates are found among the distinct contents with MinHash LSH (:mod:`tuneloop.data.minhash`)
and confirmed by exact shingle Jaccard. The kept representative of a cluster is its first example in
file order; nothing is removed by ``data check``, only by ``data dedup``, which writes a log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tuneloop.config.data import DedupSettings
from tuneloop.data.index import TextIndex, build_index
from tuneloop.data.minhash import similar_pairs
from tuneloop.data.records import Record


@dataclass
class DuplicateMember:
    """An example that duplicates another one."""

    index: int
    kind: str
    """``exact`` (same normalised content) or ``near`` (shingle Jaccard >= threshold)."""
    similarity: float
    duplicate_of: int
    """The index of the example it was matched with (the representative or another member)."""

    def reason(self, records: list[Record]) -> str:
        other = records[self.duplicate_of].source
        if self.kind == "exact":
            return f"exact duplicate of {other}"
        return f"near duplicate of {other} (Jaccard {self.similarity:.2f})"


@dataclass
class DuplicateCluster:
    """A kept representative and the duplicates that ``data dedup`` would remove."""

    representative: int
    members: list[DuplicateMember] = field(default_factory=list)


@dataclass
class DuplicateReport:
    clusters: list[DuplicateCluster]
    exact_count: int
    near_count: int
    method: dict[str, str]

    @property
    def removable(self) -> list[int]:
        return sorted(m.index for cluster in self.clusters for m in cluster.members)


class UnionFind:
    """Disjoint sets over 0..n-1 (path halving); ``groups()`` lists the sets with 2+ members."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, left: int, right: int) -> None:
        a, b = self.find(left), self.find(right)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def groups(self) -> list[list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for item in range(len(self.parent)):
            found[self.find(item)].append(item)
        return [sorted(members) for members in found.values() if len(members) > 1]


def find_duplicates(
    records: list[Record], settings: DedupSettings | None = None, index: TextIndex | None = None
) -> DuplicateReport:
    """Duplicate clusters of ``records`` (indices into the list). ``index`` may cover more records
    than ``records`` (a check that also has a holdout builds one index for both)."""
    settings = settings or DedupSettings()
    index = index or build_index(records, settings)
    first_of: dict[str, int] = {}
    exact_parent: dict[int, int] = {}
    for position in range(len(records)):
        key = index.content_keys[position]
        if key in first_of:
            exact_parent[position] = first_of[key]
        else:
            first_of[key] = position
    distinct = sorted(first_of.values())
    links = similar_pairs(
        lambda k: index.full_shingles(distinct[k]), index.full_sigs(distinct), settings.threshold
    )
    near = UnionFind(len(records))
    adjacency: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for i, j, similarity in links:
        a, b = distinct[i], distinct[j]
        near.union(a, b)
        adjacency[a].append((b, similarity))
        adjacency[b].append((a, similarity))
    for position, parent in exact_parent.items():
        near.union(position, parent)
    clusters = []
    for group in near.groups():
        cluster = DuplicateCluster(representative=group[0])
        cluster.members.extend(_near_tree(group[0], adjacency))
        cluster.members.extend(
            DuplicateMember(i, "exact", 1.0, exact_parent[i]) for i in group if i in exact_parent
        )
        cluster.members.sort(key=lambda m: m.index)
        clusters.append(cluster)
    near_count = sum(1 for c in clusters for m in c.members if m.kind == "near")
    method = {
        "exact": "sha256 of the words (NFKC, case-folded, punctuation and whitespace ignored; system prompts excluded)",
        "near": f"MinHash ({settings.num_perm} permutations, seed {settings.seed}) over word "
        f"{settings.shingle_words}-grams, LSH candidates, confirmed by exact Jaccard >= {settings.threshold}",
        "kept": "the first example of each cluster in file order",
    }
    return DuplicateReport(clusters, len(exact_parent), near_count, method)


def _near_tree(root: int, adjacency: dict[int, list[tuple[int, float]]]) -> list[DuplicateMember]:
    """Breadth-first from the representative: each near member links to the example that reached it."""
    seen, frontier, members = {root}, [root], []
    while frontier:
        following = []
        for node in frontier:
            for other, similarity in sorted(adjacency.get(node, [])):
                if other not in seen:
                    seen.add(other)
                    members.append(DuplicateMember(other, "near", similarity, node))
                    following.append(other)
        frontier = following
    return members
