"""The reference production is compared with: by default the training data of the version serving.

A model version's lineage names the DatasetVersion it was trained on, so ``monitor drift
support@production`` needs no reference argument; ``--reference`` takes a dataset version (id, digest
prefix or name) or a data file in any training format instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuneloop.data.records import Record
from tuneloop.data.text import prompt_text, response_text
from tuneloop.data.versions import get_dataset_version, load_dataset_version_records
from tuneloop.errors import InvalidInput, Location, NotFound
from tuneloop.project import Project
from tuneloop.registry import ModelVersionInfo


@dataclass(frozen=True)
class Reference:
    """Inputs (and answers, and categories when tagged) that production is compared with."""

    description: str
    prompts: list[str]
    responses: list[str]
    categories: list[str] | None
    """The first tag field's value per record, when every record has it."""


def of_records(records: list[Record], description: str, tag_field: str | None) -> Reference:
    usable = [r for r in records if r.kind != "text" and prompt_text(r).strip()]
    categories = [r.tags.get(tag_field) for r in usable] if tag_field else []
    return Reference(
        description=f"{description} ({len(usable)} inputs)",
        prompts=[prompt_text(r) for r in usable],
        responses=[response_text(r) for r in usable],
        categories=[c for c in categories if c] if categories and all(categories) else None,
    )


def training_reference(project: Project, version: ModelVersionInfo) -> Reference:
    """The training data of ``version``, from its lineage."""
    dataset_id = version.lineage.get("dataset_version_id")
    if dataset_id is None:
        raise NotFound(
            "no_training_reference",
            f"{version.reference} records no training dataset in its lineage; pass --reference",
        )
    info = get_dataset_version(project, str(dataset_id))
    records = load_dataset_version_records(project, info)
    return of_records(
        records, f"training data of {version.reference}: dataset version {info.id}", _tag(project)
    )


def explicit_reference(project: Project, reference: str) -> Reference:
    """``--reference``: a data file (relative to the project) or a dataset version."""
    from tuneloop.data.load import load_records

    path = Path(reference) if Path(reference).is_absolute() else project.root / reference
    if path.is_file():
        return of_records(
            load_records([path], tag_fields=project.config.data.tag_fields), str(reference), _tag(project)
        )
    try:
        info = get_dataset_version(project, reference)
    except NotFound:
        raise InvalidInput(
            "unknown_reference",
            f"--reference {reference!r} is neither a file nor a dataset version (see `tuneloop data list`)",
            Location(field="reference"),
        ) from None
    return of_records(
        load_dataset_version_records(project, info), f"dataset version {info.id}", _tag(project)
    )


def _tag(project: Project) -> str | None:
    fields = project.config.data.tag_fields
    return fields[0] if fields else None
