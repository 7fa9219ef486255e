"""Where a data finding's example comes from (the ``Finding`` type itself is ``tuneloop.findings``)."""

from __future__ import annotations

from typing import Any

from tuneloop.data.records import Record


def where(record: Record) -> dict[str, Any]:
    return {"file": record.source.file, "line": record.source.line}
