"""Write a report's JSON and HTML into the project's artifacts (and optionally beside the user)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneloop.jsonable import to_jsonable
from tuneloop.project import Project
from tuneloop.store import atomic_write_text


@dataclass(frozen=True)
class SavedReport:
    json_sha256: str
    html_sha256: str
    html_path: Path
    """Where the HTML lies in the artifact store (open it in a browser)."""


def save_report(
    project: Project, kind: str, data: Any, html: str, *, name: str, copy_to: Path | None = None
) -> SavedReport:
    """Store the machine (JSON) and person (HTML) versions of a report as artifacts.

    ``kind`` prefixes the artifact kinds (``data-report`` -> ``data-report-json``/``-html``);
    ``copy_to`` also writes ``<copy_to>.json`` and ``<copy_to>.html`` atomically.
    """
    payload = json.dumps(to_jsonable(data), indent=2, ensure_ascii=False, sort_keys=True)
    json_sha = project.record_artifact(payload.encode(), f"{kind}-json", f"{name}.json")
    html_sha = project.record_artifact(html.encode(), f"{kind}-html", f"{name}.html")
    if copy_to is not None:
        atomic_write_text(copy_to.with_suffix(".json"), payload)
        atomic_write_text(copy_to.with_suffix(".html"), html)
    return SavedReport(json_sha, html_sha, project.artifacts.blob_path(html_sha))
