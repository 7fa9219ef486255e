"""``check_dataset``: load, validate, measure and gate a dataset; register it as a version.

Runs in order: load (invalid data raises :class:`DataInvalid`, exit 2), then each check in
:data:`CHECKS` adds a section to the JSON report and findings; an ``error`` finding fails the gate
(exit 1). With a project, the report is stored as an artifact and the dataset is registered as a
content-addressed :class:`DatasetVersionInfo` that links to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tuneloop.config.data import DataSection
from tuneloop.data import analyses
from tuneloop.data.balance import tag_field
from tuneloop.data.index import TextIndex, build_index
from tuneloop.data.labels import answers_are_labels
from tuneloop.data.load import LoadedDataset, load_dataset
from tuneloop.data.problems import ProblemLog
from tuneloop.data.production import ProductionInput, load_production_inputs
from tuneloop.data.readers import TEXT_SUFFIXES, approximate_tokens
from tuneloop.data.records import Record, dataset_digest
from tuneloop.data.repetition import worst_repetition
from tuneloop.data.template import TokenReport
from tuneloop.data.text import response_text
from tuneloop.data.versions import DatasetVersionInfo, register_dataset_version
from tuneloop.findings import Finding
from tuneloop.jsonable import to_jsonable
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project, config_of


@dataclass
class CheckContext:
    """Everything the checks read, and what they write (report sections, findings, chart data)."""

    loaded: LoadedDataset
    settings: DataSection
    goal: str
    tag: str | None
    use_embeddings: bool
    tokenizer: Any
    max_length: int
    system_prompt: str | None
    model_dir: Path | None
    adapter: str
    epochs: float | None
    """None: derived from the number of examples, as training derives it."""
    estimate_time: bool
    holdout: LoadedDataset | None = None
    production: list[ProductionInput] | None = None
    report: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    charts: dict[str, Any] = field(default_factory=dict)
    tokens: TokenReport | None = None
    cache_dir: Path | None = None
    """The project's cache (embeddings of unchanged texts are kept there); None without a project."""
    progress: Progress = SILENT
    """Where the checks report (a check may open its own task, shown under the overall one)."""

    @property
    def records(self) -> list[Record]:
        return self.loaded.records

    @cached_property
    def index(self) -> TextIndex:
        """Shingles, signatures and keys of the training records, then the holdout records."""
        held = self.holdout.records if self.holdout else []
        return build_index(self.records + held, self.settings.dedup)

    @cached_property
    def answers_are_labels(self) -> bool:
        """Whether the answers are classification labels (``data.labels`` states the rule)."""
        answers = [response_text(r) for r in self.records if r.kind != "text"]
        return answers_are_labels(answers, self.settings.labels)

    @cached_property
    def repetitive(self) -> dict[int, tuple[float, int]]:
        """Records whose answer loops: index -> (share of words in repeated n-grams, words)."""
        limits = self.settings.diversity
        found = {}
        for index, record in enumerate(self.records):
            share, length = worst_repetition(record, limits.repetition_ngram, limits.repetition_min_words)
            if share > limits.max_repeated_share:
                found[index] = (share, length)
        return found

    def add(self, check: str, code: str, severity: str, message: str, count: int | None = None,
            items: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        self.findings.append(Finding(check, code, severity, message, count, items or []))  # type: ignore[arg-type]


@dataclass
class DataCheckResult:
    """The outcome of :func:`check_dataset`."""

    records: list[Record]
    findings: list[Finding]
    report: dict[str, Any]
    dataset_version: DatasetVersionInfo | None
    token_report: TokenReport | None
    overlength_policy: str
    html: str
    report_html_path: Path | None = None

    @property
    def gate_passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def training_records(self) -> list[Record]:
        """The records a trainer should use: over-length ones dropped (policy ``drop``), never truncated."""
        if self.token_report is None or self.overlength_policy != "drop":
            return self.records
        dropped = set(self.token_report.overlength)
        return [r for i, r in enumerate(self.records) if i not in dropped]


def resolve_tokenizer(
    project: Project | None, model: str | None, *, progress: Progress = SILENT
) -> tuple[Any, Path, str]:
    """The target base model's tokenizer (with its chat template), its directory and reference (a
    first pull of the base model reports through ``progress``)."""
    from tuneloop.models import load_tokenizer, resolve_model

    reference = model or config_of(project).model.base
    resolved = resolve_model(reference, project, progress=progress)
    template = None
    if project is not None and project.config.model.chat_template:
        template = project.resolve_path(project.config.model.chat_template).read_text(encoding="utf-8")
    return load_tokenizer(resolved.base_path, template), resolved.base_path, reference


def check_dataset(
    project: Project | None,
    paths: list[Path],
    *,
    goal: str | None = None,
    holdout: list[Path] | None = None,
    production_sample: Path | None = None,
    tokenizer: Any = None,
    max_length: int | None = None,
    embeddings: bool = True,
    register: bool = True,
    format: str | None = None,
    tag_fields: list[str] | None = None,
    settings: DataSection | None = None,
    model: str | None = None,
    token_stats: bool = True,
    estimate_time: bool = False,
    name: str | None = None,
    report_path: Path | None = None,
    loaded: LoadedDataset | None = None,
    progress: Progress = SILENT,
) -> DataCheckResult:
    """Check a dataset (see the module docstring); raises ``DataInvalid`` when the data is invalid.

    ``loaded`` checks records already in memory (:func:`~tuneloop.data.load.loaded_from_records`)
    instead of reading ``paths``."""
    settings = settings or config_of(project).data
    tags = tag_fields if tag_fields is not None else settings.tag_fields
    model_dir: Path | None = None
    token_note = None

    def resolve() -> None:
        nonlocal tokenizer, model_dir, token_note
        if token_stats and tokenizer is None and token_note is None:
            try:
                tokenizer, model_dir, _ = resolve_tokenizer(project, model, progress=progress)
            except Exception as exc:  # no model offline, a broken directory: say so, run the other checks
                token_note = (
                    f"no tokenizer for the target model ({type(exc).__name__}: {exc}); token checks skipped"
                )

    # Raw text is chunked by tokens, so it needs the tokenizer first; otherwise invalid data fails fast.
    if any(p.is_dir() or p.suffix.lower() in TEXT_SUFFIXES for p in paths):
        resolve()

    def count_tokens(text: str) -> int:
        if tokenizer is None:
            return approximate_tokens(text)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    load_kwargs: dict[str, Any] = {
        "format": format or settings.format,
        "tag_fields": tags,
        "max_problems": settings.max_problems,
        "max_line_bytes": settings.max_line_bytes,
        "chunk_tokens": settings.chunk_tokens,
        "count_tokens": count_tokens,
    }
    if loaded is None:
        loaded = load_dataset(paths, **load_kwargs)
    resolve()
    held = load_dataset(holdout, **load_kwargs) if holdout else None
    production = None
    if production_sample is not None:
        from tuneloop.data.load import display_name

        log = ProblemLog(limit=settings.max_problems)
        if not production_sample.exists():
            log.error("file_not_found", "no such file", display_name(production_sample))
        else:
            production = load_production_inputs(production_sample, display_name(production_sample), tags, log)
        log.raise_if_errors()
    config = config_of(project)
    ctx = CheckContext(
        loaded=loaded,
        settings=settings,
        goal=goal or _default_goal(settings, loaded),
        tag=tag_field(loaded.records, tags),
        use_embeddings=embeddings and settings.embeddings.enabled,
        tokenizer=tokenizer if token_stats else None,
        max_length=max_length or config.model.max_length,
        system_prompt=config.project.system_prompt,
        model_dir=model_dir,
        adapter=config.train.adapter,
        epochs=config.train.epochs,
        estimate_time=estimate_time,
        progress=progress,
        cache_dir=project.cache_dir if project is not None else None,
        holdout=held,
        production=production,
    )
    if token_note:
        ctx.add("tokens", "tokenizer_unavailable", "warning", token_note)
    with progress.task("data check", total=len(analyses.CHECKS)) as overall:
        for check in analyses.CHECKS:
            overall.update(status=check.__name__.replace("_", " "))
            check(ctx)
            overall.advance()
    return _finish(project, ctx, paths, register=register, name=name, report_path=report_path)


def _default_goal(settings: DataSection, loaded: LoadedDataset) -> str:
    return "domain" if loaded.kind == "text" else settings.goal


def _finish(project: Project | None, ctx: CheckContext, paths: list[Path], *, register: bool, name: str | None,
            report_path: Path | None) -> DataCheckResult:  # fmt: skip
    from tuneloop.data.report import render_html

    records = ctx.records
    name = name or (paths[0].stem if paths else "dataset")
    errors = sum(1 for f in ctx.findings if f.severity == "error")
    digest = dataset_digest(records)
    ctx.report["dataset"] = {
        "name": name,
        "digest": digest,
        "kind": ctx.loaded.kind,
        "records": len(records),
        "files": [vars(f) for f in ctx.loaded.files],
        "goal": ctx.goal,
        "tag_field": ctx.tag,
    }
    ctx.report["gate"] = {
        "passed": errors == 0,
        "errors": errors,
        "warnings": sum(1 for f in ctx.findings if f.severity == "warning"),
    }
    ctx.report["findings"] = [f.to_dict() for f in ctx.findings]
    html = render_html(ctx.report, ctx.charts)
    version, html_path = None, None
    if project is not None and register:
        from tuneloop.reports import save_report

        saved = save_report(
            project, "data-report", ctx.report, html, name=f"data-{name}", copy_to=report_path
        )
        html_path = report_path.with_suffix(".html") if report_path else saved.html_path
        version = register_dataset_version(
            project,
            records,
            name=name,
            source_files=[f.path for f in ctx.loaded.files],
            stats=_stats(ctx.report),
            report_json_sha256=saved.json_sha256,
            report_html_sha256=saved.html_sha256,
            gate_passed=errors == 0,
            digest=digest,
        )
        ctx.report["dataset_version"] = version.to_dict()
    elif report_path is not None:
        import json

        from tuneloop.store import atomic_write_text

        atomic_write_text(
            report_path.with_suffix(".json"),
            json.dumps(to_jsonable(ctx.report), indent=2, ensure_ascii=False),
        )
        atomic_write_text(report_path.with_suffix(".html"), html)
        html_path = report_path.with_suffix(".html")
    policy = ctx.settings.overlength
    return DataCheckResult(records, ctx.findings, ctx.report, version, ctx.tokens, policy, html, html_path)


def _stats(report: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a dataset version keeps beside its report."""
    tokens = report.get("tokens") or {}
    duplicates = report.get("duplicates") or {}
    return {
        "records": report["dataset"]["records"],
        "kind": report["dataset"]["kind"],
        "tokens": tokens.get("tokens"),
        "assistant_token_share": tokens.get("assistant_token_share"),
        "duplicates_removable": duplicates.get("removable"),
        "errors": report["gate"]["errors"],
        "warnings": report["gate"]["warnings"],
    }
