"""Dataset versions: content-addressed snapshots of normalised records, with their check report.

The digest is :func:`~tuneloop.data.records.dataset_digest` of the records (content only, in order),
so the same examples registered twice are one version, whatever the files were called. The records
are stored as a JSONL artifact (sources included), so a run can reload exactly what it trained on.
Registering the same content again returns the existing version and points it at the newest report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from sqlalchemy import select

from tuneloop.data.records import Record, dataset_digest
from tuneloop.errors import NotFound
from tuneloop.project import Project
from tuneloop.store import DatasetVersionRecord

_RECORD_ADAPTER: TypeAdapter[Record] = TypeAdapter(Annotated[Record, Field(discriminator="kind")])


@dataclass(frozen=True)
class DatasetVersionInfo:
    """A registered dataset version, detached from the database session."""

    id: int
    digest: str
    name: str
    kind: str
    num_records: int
    source_files: list[str]
    snapshot_sha256: str | None
    gate_passed: bool | None
    created_at: datetime
    stats: dict[str, Any]
    report_json_sha256: str | None = None
    report_html_sha256: str | None = None

    @classmethod
    def of(cls, record: DatasetVersionRecord) -> DatasetVersionInfo:
        return cls(
            id=record.id,
            digest=record.digest,
            name=record.name,
            kind=record.kind,
            num_records=record.num_records,
            source_files=list(record.source_files or []),
            snapshot_sha256=record.snapshot_sha256,
            gate_passed=record.gate_passed,
            created_at=record.created_at,
            stats=dict(record.stats or {}),
            report_json_sha256=record.report_json_sha256,
            report_html_sha256=record.report_html_sha256,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "digest": self.digest,
            "name": self.name,
            "kind": self.kind,
            "num_records": self.num_records,
            "source_files": self.source_files,
            "snapshot_sha256": self.snapshot_sha256,
            "gate_passed": self.gate_passed,
            "created_at": self.created_at.isoformat(),
            "stats": self.stats,
            "report_json_sha256": self.report_json_sha256,
            "report_html_sha256": self.report_html_sha256,
        }


def records_kind(records: list[Record]) -> str:
    kinds = {r.kind for r in records}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def snapshot_bytes(records: list[Record]) -> bytes:
    """The records as JSONL (one canonical JSON object per line, source included)."""
    lines = (
        json.dumps(r.model_dump(mode="json", exclude_none=True), ensure_ascii=False, sort_keys=True)
        for r in records
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


def register_dataset_version(
    project: Project,
    records: list[Record],
    *,
    name: str,
    source_files: list[str],
    stats: dict[str, Any],
    report_json_sha256: str | None = None,
    report_html_sha256: str | None = None,
    gate_passed: bool | None = None,
    digest: str | None = None,
) -> DatasetVersionInfo:
    """Register ``records`` (or return the version that already holds the same content).

    ``digest`` may pass ``dataset_digest(records)`` when the caller already computed it."""
    digest = digest or dataset_digest(records)
    snapshot = project.record_artifact(snapshot_bytes(records), "dataset-snapshot", f"{name}.jsonl")
    with project.store.session() as session:
        existing = session.scalar(select(DatasetVersionRecord).where(DatasetVersionRecord.digest == digest))
        if existing is not None:
            if report_json_sha256 is not None:
                existing.report_json_sha256 = report_json_sha256
                existing.report_html_sha256 = report_html_sha256
                existing.gate_passed = gate_passed
                existing.stats = stats
            session.flush()
            return DatasetVersionInfo.of(existing)
        record = DatasetVersionRecord(
            digest=digest,
            name=name,
            kind=records_kind(records),
            num_records=len(records),
            source_files=source_files,
            snapshot_sha256=snapshot,
            stats=stats,
            report_json_sha256=report_json_sha256,
            report_html_sha256=report_html_sha256,
            gate_passed=gate_passed,
        )
        session.add(record)
        session.flush()
        return DatasetVersionInfo.of(record)


def list_dataset_versions(project: Project) -> list[DatasetVersionInfo]:
    with project.store.session() as session:
        rows = session.scalars(select(DatasetVersionRecord).order_by(DatasetVersionRecord.id)).all()
        return [DatasetVersionInfo.of(r) for r in rows]


def get_dataset_version(project: Project, ref: str) -> DatasetVersionInfo:
    """A version by id (``3``), digest prefix (6+ hex characters) or name (the newest of that name)."""
    ref = ref.strip()
    with project.store.session() as session:
        if ref.isdigit():
            found = session.get(DatasetVersionRecord, int(ref))
            if found is not None:
                return DatasetVersionInfo.of(found)
        if len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref.lower()):
            matches = session.scalars(
                select(DatasetVersionRecord).where(DatasetVersionRecord.digest.startswith(ref.lower()))
            ).all()
            if len(matches) == 1:
                return DatasetVersionInfo.of(matches[0])
            if len(matches) > 1:
                raise NotFound(
                    "ambiguous_dataset", f"digest prefix {ref!r} matches {len(matches)} dataset versions"
                )
        named = session.scalars(
            select(DatasetVersionRecord)
            .where(DatasetVersionRecord.name == ref)
            .order_by(DatasetVersionRecord.id.desc())
        ).first()
        if named is not None:
            return DatasetVersionInfo.of(named)
    raise NotFound(
        "dataset_not_found",
        f"no dataset version {ref!r} (an id, a digest prefix or a name; see `tuneloop data list`)",
    )


def load_dataset_version_records(project: Project, info: DatasetVersionInfo) -> list[Record]:
    """The exact records of a version, from its snapshot artifact."""
    if info.snapshot_sha256 is None:
        raise NotFound("snapshot_missing", f"dataset version {info.id} has no snapshot")
    text = project.artifacts.get_bytes(info.snapshot_sha256).decode("utf-8")
    return [_RECORD_ADAPTER.validate_python(json.loads(line)) for line in text.split("\n") if line.strip()]
