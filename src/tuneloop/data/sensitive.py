"""Scan every string field of every row for personal data and secrets; write redacted copies.

Rows are scanned as read (before normalisation), so fields a format does not use (``metadata``,
extra columns) are covered too, and each finding names its file, line and field path.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tuneloop.config.data import SensitiveSettings
from tuneloop.data.parallel import map_ranges
from tuneloop.data.pii import PiiFinding, TextFacts, pii_candidates, resolve_overlaps
from tuneloop.data.readers import RawRow
from tuneloop.data.secrets import secret_candidates

SECRET_KINDS = frozenset({"private_key", "api_key", "token", "password", "high_entropy"})
PLACEHOLDERS = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card_number": "[CARD_NUMBER]",
    "iban": "[IBAN]",
    "national_id": "[NATIONAL_ID]",
    "ip_address": "[IP_ADDRESS]",
    "person_name": "[NAME]",
    "private_key": "[PRIVATE_KEY]",
    "api_key": "[API_KEY]",
    "token": "[TOKEN]",
    "password": "[PASSWORD]",
    "high_entropy": "[SECRET]",
}


@dataclass(frozen=True)
class SensitiveFinding:
    """Personal data or a secret at a file, line and field."""

    file: str
    line: int
    field: str
    kind: str
    masked: str

    @property
    def category(self) -> str:
        return "secret" if self.kind in SECRET_KINDS else "pii"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "kind": self.kind,
            "category": self.category,
            "masked": self.masked,
        }


def iter_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, text) for every string inside a JSON-like value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_strings(item, f"{path}[{index}]")


def find_sensitive(text: str, settings: SensitiveSettings) -> list[PiiFinding]:
    """PII and secrets in one text (overlaps resolved in favour of the longer span)."""
    facts = TextFacts(text)
    return resolve_overlaps(
        pii_candidates(facts, person_names=settings.person_names) + secret_candidates(facts)
    )


def scan_rows(rows: list[RawRow], settings: SensitiveSettings) -> list[SensitiveFinding]:
    """Every finding in every string field of ``rows`` (large inputs: one forked process per core)."""
    parts = map_ranges(lambda start, stop: _scan(rows[start:stop], settings), len(rows), min_items=5000)
    return [finding for part in parts for finding in part]


_SEPARATOR = "\n\x1e\n"  # no pattern matches across it: not a word, digit or number separator


def _scan(rows: list[RawRow], settings: SensitiveSettings) -> list[SensitiveFinding]:
    """Scan each row's string fields as one text (fields joined by a separator no pattern crosses):
    one pass of every detector per row instead of one per field."""
    findings = []
    for row in rows:
        fields = [(field, text) for field, text in iter_strings(row.value) if len(text) >= 6]
        if not fields:
            continue
        starts, position = [], 0
        for _, text in fields:
            starts.append(position)
            position += len(text) + len(_SEPARATOR)
        joined = _SEPARATOR.join(text for _, text in fields)
        for found in find_sensitive(joined, settings):
            owner = bisect.bisect_right(starts, found.start) - 1
            findings.append(SensitiveFinding(row.file, row.line, fields[owner][0], found.kind, found.masked))
    return findings


def redact_text(text: str, settings: SensitiveSettings) -> tuple[str, list[PiiFinding]]:
    """``text`` with every finding replaced by a type marker such as ``[EMAIL]``."""
    found = find_sensitive(text, settings)
    for finding in reversed(found):
        text = text[: finding.start] + PLACEHOLDERS[finding.kind] + text[finding.end :]
    return text, found


def redact_value(value: Any, settings: SensitiveSettings) -> tuple[Any, int]:
    """A copy of a JSON-like value with every string redacted, and the number of replacements."""
    if isinstance(value, str):
        text, found = redact_text(value, settings)
        return text, len(found)
    if isinstance(value, dict):
        total, out = 0, {}
        for key, item in value.items():
            out[key], count = redact_value(item, settings)
            total += count
        return out, total
    if isinstance(value, list):
        total, items = 0, []
        for item in value:
            new, count = redact_value(item, settings)
            items.append(new)
            total += count
        return items, total
    return value, 0
