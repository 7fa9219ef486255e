"""A run's inputs, each checked before any compute: the settings, the base model (or parent version)
and its licence, and the data through the data stage's gate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.config.train import TrainSection
from tuneloop.errors import CheckFailed, InvalidInput, Location, NotFound
from tuneloop.models import ResolvedModel
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.store import sha256_bytes

if TYPE_CHECKING:
    from tuneloop.evaluate.probe import SuiteProbe
    from tuneloop.registry import ModelVersionInfo
    from tuneloop.train.batching import TrainingPlan
    from tuneloop.train.pipeline import Prepared
    from tuneloop.train.run_records import RunInfo
    from tuneloop.train.settings import TrainSettings


@dataclass
class TrainRequest:
    """What one call of :func:`tuneloop.train.train` asks for; every field is optional."""

    method: str | None = None
    adapter: str | None = None
    data: list[Path] | None = None
    """Training files instead of ``data.train``."""
    holdout: list[Path] | None = None
    """Holdout files instead of ``data.holdout`` (eval loss during training)."""
    records: list[Any] | None = None
    """Canonical records to train on directly (programmatic use; registered as a dataset version)."""
    dataset_version: str | None = None
    """A registered dataset version (id, digest prefix or name) to train on: its exact snapshot."""
    holdout_records: list[Any] | None = None
    parent: str | None = None
    """Continue from this registered version (``name:3``), overriding ``train.parent``."""
    register_as: str | None = None
    tag: str | None = None
    """A free label stored in the version's lineage (e.g. ``shuffled-labels``)."""
    run_name: str | None = None
    resume: bool | str = False
    """True: the newest dead run of the same config; a string: that run."""
    dry_run: bool = False
    force: bool = False
    """Train although the data gate or the pre-flight failed; recorded with the run."""
    force_reason: str | None = None
    no_eval: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    """``train`` section fields to change for this run (e.g. ``{"max_steps": 10}``)."""
    sweep: str | None = None
    """``lr``: pick the learning rate by short proxy runs before training (:mod:`.sweep`)."""
    crash_after_step: int | None = None
    """Tests: die after this step as a crash would (the run stays ``running``, resumable)."""


def effective_section(project: Project, request: TrainRequest) -> TrainSection:
    """The project's ``train`` section with the request's overrides, validated again."""
    data = project.config.train.model_dump()
    data.update(request.overrides)
    for name in ("method", "adapter", "parent", "register_as"):
        value = getattr(request, name)
        if value is not None:
            data[name] = value
    try:
        return TrainSection.model_validate(data)
    except Exception as exc:
        raise InvalidInput(
            "invalid_train_override", f"invalid training settings: {exc}", Location(field="train")
        ) from None


@dataclass
class BaseChoice:
    resolved: ResolvedModel
    base_reference: str
    """The foundation model reference recorded as the version's base."""
    parent: ModelVersionInfo | None = None
    """The parent version, if continuing from a registered version."""
    licence: dict[str, Any] | None = None
    catalog_entry: Any = None


def choose_base(project: Project, section: TrainSection, *, progress: Progress = SILENT) -> BaseChoice:
    """Resolve the starting weights and check the licence of the foundation model behind them (a
    first pull of the base model reports through ``progress``)."""
    from tuneloop.models import resolve_model

    if section.parent:
        from tuneloop.registry import get_model_version

        parent = get_model_version(project, section.parent)
        resolved = resolve_model(parent.reference, project, progress=progress)
        choice = BaseChoice(resolved, parent.base_reference, parent)
    else:
        resolved = resolve_model(project.config.model.base, project, progress=progress)
        choice = BaseChoice(resolved, project.config.model.base)
    catalog_id = resolved.catalog_id
    if catalog_id:
        from tuneloop.models import enforce_licence, get_entry

        choice.catalog_entry = get_entry(catalog_id)
        decision = enforce_licence(
            choice.catalog_entry, project.config.project.use, project.config.model.licence_override
        )
        choice.licence = decision.model_dump(mode="json")
    else:
        choice.licence = {
            "checked": False,
            "reason": f"'{choice.base_reference}' is not in the catalog; its licence is the user's responsibility",
        }
    return choice


@dataclass
class RunInputs:
    """Everything decided before compute starts, handed from :func:`~tuneloop.train.pipeline.train` to
    :func:`~tuneloop.train.session.execute`."""

    project: Project
    request: TrainRequest
    section: TrainSection
    settings: TrainSettings
    choice: BaseChoice
    tokenizer: Any
    data: TrainingData
    prepared: Prepared
    """Items, plan and pre-flight."""
    fingerprint: str
    resumed: RunInfo | None = None
    """The run being resumed, if any."""
    probe: SuiteProbe | None = None
    """The suite metric early stopping selects on."""
    progress: Progress = SILENT
    """Where the main process reports (other processes get ``SILENT``)."""

    @property
    def plan(self) -> TrainingPlan:
        """The batch plan: a run starts only once the pre-flight has made one."""
        if self.prepared.plan is None:
            raise RuntimeError("the pre-flight refused the run; there is no batch plan to train")
        return self.prepared.plan


def chat_template_text(project: Project) -> str | None:
    path = project.config.model.chat_template
    return project.resolve_path(path).read_text(encoding="utf-8") if path else None


def template_sha256(tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    return sha256_bytes(json.dumps(template).encode()) if template else None


@dataclass
class TrainingData:
    records: list[Any]
    holdout: list[Any]
    dataset_version_id: int | None
    dataset_digest: str
    source_files: list[str]
    gate_passed: bool | None
    forced: bool = False
    force_reason: str | None = None
    report: str | None = None
    """Where the data-check report lies."""
    notes: list[str] = field(default_factory=list)
    kept: list[int] | None = None
    """Indices of the loaded records that are trained on (None: all)."""

    def for_workers(self) -> dict[str, Any]:
        """What the main process tells the others (they load the same files themselves)."""
        return {
            "digest": self.dataset_digest,
            "kept": self.kept,
            "version": self.dataset_version_id,
            "gate_passed": self.gate_passed,
            "forced": self.forced,
            "force_reason": self.force_reason,
        }


def load_training_data(
    project: Project,
    request: TrainRequest,
    *,
    tokenizer: Any,
    max_length: int,
    main: dict[str, Any] | None = None,
    progress: Progress = SILENT,
) -> TrainingData:
    """Records for training, through the data stage: validated, gated and registered as a version.

    A failing gate raises :class:`CheckFailed` unless the request forces the run, which is recorded.
    Non-main processes of a distributed run only load the records, keeping those the main process
    kept (``main`` is its :meth:`TrainingData.for_workers`); the digest proves they are the same.
    """
    from tuneloop.data import check_dataset, dataset_digest, load_records, register_dataset_version

    config = project.config
    holdout_paths = [project.resolve_path(p) for p in files_or_config(request.holdout, config.data.holdout)]

    def _holdout() -> list[Any]:
        if not holdout_paths:
            return []
        return load_records(holdout_paths, format=config.data.format, tag_fields=config.data.tag_fields)

    if request.records is not None:
        records = list(request.records)
        version_id = main["version"] if main else None
        if main is None:
            info = register_dataset_version(
                project, records, name="programmatic", source_files=[], stats={"records": len(records)}
            )
            version_id = info.id
        holdout = list(request.holdout_records or [])
        return TrainingData(records, holdout, version_id, dataset_digest(records), [], None)
    if request.dataset_version is not None:
        return _registered_version(project, request.dataset_version, _holdout(), request)
    paths = [project.resolve_path(p) for p in files_or_config(request.data, config.data.train)]
    if not paths:
        raise InvalidInput(
            "no_training_data",
            "no training data: set data.train in tuneloop.yaml or pass --data FILE",
            Location(field="data.train"),
        )
    holdout = _holdout()
    if len(paths) == 1 and not paths[0].exists() and request.data:
        return _registered_version(project, str(request.data[0]), holdout, request)
    if main is not None:
        loaded = load_records(paths, format=config.data.format, tag_fields=config.data.tag_fields)
        if dataset_digest(loaded) != main["digest"]:
            raise InvalidInput(
                "data_differs",
                "this process read different training data than the main process; "
                "the project directory must be the same (shared) on every node",
                Location(field="data.train"),
            )
        records = loaded if main["kept"] is None else [loaded[i] for i in main["kept"]]
        return TrainingData(
            records,
            holdout,
            main["version"],
            main["digest"],
            [str(p) for p in paths],
            main["gate_passed"],
            main["forced"],
            main["force_reason"],
            kept=main["kept"],
        )
    result = check_dataset(
        project,
        paths,
        holdout=holdout_paths or None,
        tokenizer=tokenizer,
        max_length=max_length,
        register=True,
        progress=progress,
    )
    version = result.dataset_version
    trained = {id(r) for r in result.training_records}
    data = TrainingData(
        records=result.training_records,
        holdout=holdout,
        dataset_version_id=version.id if version else None,
        dataset_digest=dataset_digest(result.records),
        source_files=[str(p) for p in paths],
        gate_passed=result.gate_passed,
        report=str(result.report_html_path) if result.report_html_path else None,
        kept=[i for i, r in enumerate(result.records) if id(r) in trained],
    )
    dropped = len(result.records) - len(data.records)
    if dropped:
        data.notes.append(f"{dropped} over-length records dropped by the data stage (data.overlength: drop)")
    if not result.gate_passed:
        errors = [f for f in result.findings if f.severity == "error"]
        summary = "; ".join(f"{f.code}: {f.message}" for f in errors[:3])
        if not request.force:
            raise CheckFailed(
                "data_gate_failed",
                f"the data gate failed ({len(errors)} errors: {summary}); fix the data (report: {data.report}) "
                "or train anyway with --force, which is recorded with the run",
                Location(paths[0].name if paths else None, field="data.train"),
            )
        data.forced = True
        data.force_reason = request.force_reason or f"data gate failed and --force was given ({summary})"
    return data


def _registered_version(
    project: Project, ref: str, holdout: list[Any], request: TrainRequest
) -> TrainingData:
    """``--data`` naming a registered dataset version (id, digest prefix or name) instead of a file:
    its exact snapshot, checked when it was registered; a version whose gate failed needs --force."""
    from tuneloop.data import get_dataset_version, load_dataset_version_records

    try:
        info = get_dataset_version(project, ref)
    except NotFound:
        raise NotFound(
            "data_not_found",
            f"--data {ref}: no such file and no dataset version of that id, digest or name",
            Location(ref, field="--data"),
        ) from None
    records = load_dataset_version_records(project, info)
    data = TrainingData(records, holdout, info.id, info.digest, list(info.source_files), info.gate_passed)
    if info.gate_passed is False:
        if not request.force:
            raise CheckFailed(
                "data_gate_failed",
                f"dataset version {info.id} ({info.name}) failed its data gate; fix the data or pass --force",
                Location(ref, field="--data"),
            )
        data.forced = True
        data.force_reason = (
            request.force_reason or f"dataset version {info.id} failed its data gate; --force given"
        )
    return data


def files_or_config(given: list[Path] | None, configured: list[str]) -> list[Any]:
    """The request's files when given (an empty list means none), else the config's."""
    return list(configured) if given is None else list(given)
