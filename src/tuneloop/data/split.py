"""Leak-proof train/holdout splits: group-aware, stratified, then verified for cross-split duplicates.

1. Split with scikit-learn: ``StratifiedGroupKFold`` (groups and strata), ``GroupShuffleSplit``
   (groups: no group on both sides), a stratified ``train_test_split`` (strata; classes with a single
   example stay in train), or a plain random split.
2. Verify: any holdout item that duplicates a training item, exactly or nearly, on the prompt alone
   or on the whole example, moves to train (with its whole group). Moving can expose a new match
   (a holdout item that duplicated the moved one), so this repeats until nothing crosses the split.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tuneloop.config.data import DedupSettings
from tuneloop.data.contamination import cross_split_matches
from tuneloop.data.records import Record


@dataclass
class SplitResult:
    train: list[int]
    holdout: list[int]
    moved: list[tuple[int, str]] = field(default_factory=list)
    """Holdout items moved to train, each with the reason."""
    method: str = ""
    strata: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "train": len(self.train),
            "holdout": len(self.holdout),
            "method": self.method,
            "moved_to_train": [{"index": i, "reason": r} for i, r in self.moved],
            "strata": self.strata,
        }


def _groups(records: list[Record], group_by: str | None) -> list[str]:
    if group_by is None:
        return [str(i) for i in range(len(records))]
    # a record without the group field is a group of its own
    return [r.tags.get(group_by) or f"\x00{i}" for i, r in enumerate(records)]


def _initial_split(records: list[Record], holdout: float, groups: list[str], strata: list[str] | None,
                   grouped: bool, seed: int) -> tuple[list[int], list[int], str]:  # fmt: skip
    from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, train_test_split

    indices = list(range(len(records)))
    if grouped and strata is not None:
        folds = max(2, round(1 / holdout))
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        train, test = next(splitter.split(indices, strata, groups))
        return sorted(train.tolist()), sorted(test.tolist()), f"StratifiedGroupKFold (1 of {folds} folds)"
    if grouped:
        splitter = GroupShuffleSplit(n_splits=1, test_size=holdout, random_state=seed)
        train, test = next(splitter.split(indices, groups=groups))
        return sorted(train.tolist()), sorted(test.tolist()), "GroupShuffleSplit"
    if strata is not None:
        counts = Counter(strata)
        singles = [i for i in indices if counts[strata[i]] < 2]
        rest = [i for i in indices if counts[strata[i]] >= 2]
        train, test = train_test_split(
            rest, test_size=holdout, stratify=[strata[i] for i in rest], random_state=seed
        )
        return sorted(train + singles), sorted(test), "stratified train_test_split"
    train, test = train_test_split(indices, test_size=holdout, random_state=seed)
    return sorted(train), sorted(test), "random train_test_split"


def split_dataset(
    records: list[Record],
    *,
    holdout: float = 0.1,
    group_by: str | None = None,
    stratify_by: str | None = None,
    seed: int = 42,
    dedup: DedupSettings | None = None,
) -> SplitResult:
    """Split ``records`` into train and holdout indices (group and stratum values come from tags)."""
    if not 0 < holdout < 1:
        raise ValueError("holdout must be between 0 and 1")
    if len(records) < 2:
        raise ValueError("need at least 2 records to split")
    dedup = dedup or DedupSettings()
    groups = _groups(records, group_by)
    strata = [r.tags.get(stratify_by, "(none)") for r in records] if stratify_by else None
    train, test, method = _initial_split(records, holdout, groups, strata, group_by is not None, seed)
    moved: list[tuple[int, str]] = []
    while test:
        matches = cross_split_matches([records[i] for i in train], [records[i] for i in test], dedup)
        if not matches:
            break
        move = {test[h] for h in matches}
        reasons = {test[h]: m.reason for h, m in matches.items()}
        moving_groups = {groups[i] for i in move}
        for i in test:
            if groups[i] in moving_groups:
                moved.append((i, reasons.get(i, f"same {group_by} as a moved example")))
        train = sorted(train + [i for i in test if groups[i] in moving_groups])
        test = [i for i in test if groups[i] not in moving_groups]
    result = SplitResult(train, test, sorted(moved), method)
    if strata is not None:
        result.strata = {
            "train": dict(Counter(strata[i] for i in train)),
            "holdout": dict(Counter(strata[i] for i in test)),
        }
    return result
