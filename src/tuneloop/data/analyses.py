"""The ordered list of checks ``data check`` runs; adding a check is adding a function here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tuneloop.data import checks_core, checks_labels, checks_quality, checks_records

if TYPE_CHECKING:
    from tuneloop.data.check import CheckContext

CHECKS: list[Callable[[CheckContext], None]] = [
    checks_core.loading_warnings,
    checks_core.text_index,
    checks_core.volume,
    checks_records.turns,
    checks_records.repetition,
    checks_core.tokens,
    checks_core.duplicates,
    checks_core.conflicts,
    checks_quality.diversity,
    checks_labels.labels,
    checks_quality.balance,
    checks_quality.production,
    checks_quality.sensitive,
    checks_quality.contamination,
    checks_quality.estimate,
]
