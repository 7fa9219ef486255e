"""Evaluation suites: typed YAML naming the items, the generation settings, the metrics and the gates.

A suite file looks like ``examples/support/evals/support.yaml``::

    name: support
    items: {file: ../holdout.jsonl}          # or dataset: <version>, holdout: true, inline: [...]
    generation: {max_new_tokens: 128}
    metrics:
      - json_valid
      - {name: json_field_accuracy, fields: [category, priority]}
      - {name: rouge_l, field: reply}
    primary_metric: category_accuracy
    gates:
      - {metric: category_accuracy, rule: not_worse_than, baseline: production, margin: 0.01}

``load_suite`` validates it with :func:`tuneloop.config.load_model_from_yaml`, so every mistake is
reported as ``file:LINE: ...``. ``builtin:general`` is the packaged general-ability (forgetting) suite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from tuneloop.config import load_model_from_yaml
from tuneloop.config.evaluate import GateRule
from tuneloop.config.strict_model import StrictModel
from tuneloop.errors import InvalidInput, Location, NotFound
from tuneloop.evaluate.generation import GenerationSettings
from tuneloop.evaluate.metrics import MetricOptions, outputs_of, parse_metric_options
from tuneloop.store import sha256_bytes

if TYPE_CHECKING:
    from tuneloop.project import Project

BUILTIN_PREFIX = "builtin:"


def _metric_entry(value: Any) -> Any:
    """Validate one ``metrics`` entry against its metric's own options model."""
    if isinstance(value, MetricOptions):
        return value
    if not isinstance(value, str | dict):
        raise ValueError("a metric is a name or a mapping with `name` and its options")
    if isinstance(value, dict) and "name" not in value:
        raise ValueError("metric entry has no `name`")
    try:
        return parse_metric_options(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None
    except ValidationError as exc:
        name = value if isinstance(value, str) else value["name"]
        raise ValueError(f"metric '{name}': {_flat(exc)}") from None


def _flat(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if "[" not in str(p))
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown option '{where}'")
        elif err["type"] == "missing":
            parts.append(f"missing option '{where}'")
        else:
            parts.append(f"{where + ': ' if where else ''}{err['msg']}")
    return "; ".join(parts)


MetricEntry = Annotated[MetricOptions, BeforeValidator(_metric_entry)]


class InlineItem(StrictModel):
    """An item written in the suite itself (hand-written suites such as ``builtin:general``)."""

    prompt: str | None = None
    """The user message; or give ``messages``."""
    messages: list[dict[str, str]] | None = None
    """The conversation before the answer (role/content pairs)."""
    reference: str | None = None
    """The expected answer."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Labels such as ``category`` (per-category breakdown)."""
    checks: list[MetricEntry] = Field(default_factory=list)
    """Checks of this item only (binary metrics), scored by the ``item_checks`` metric."""

    @model_validator(mode="after")
    def _one_prompt(self) -> InlineItem:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of `prompt` and `messages`")
        return self


class ProductionSample(StrictModel):
    """Items sampled from the logged production requests (needs the serving stage's request log)."""

    sample: int = Field(ge=1)
    """How many logged requests to sample."""
    since_days: int | None = Field(default=None, ge=1)
    """Only requests of the last N days."""
    seed: int = 0
    """Sampling seed."""


class ItemsSource(StrictModel):
    """Where a suite's items come from: exactly one of the sources."""

    file: str | None = None
    """A data file in any format the data stage reads (relative to the suite file)."""
    dataset: str | None = None
    """A dataset version: its id, digest (prefix) or name (the latest version of that name)."""
    holdout: bool = False
    """The project's ``data.holdout`` files."""
    production: ProductionSample | None = None
    """A sample of logged production requests, so the holdout represents production inputs."""
    inline: list[InlineItem] | None = None
    """Items written here."""
    tag_fields: list[str] | None = None
    """Record fields read as tags; None: the project's ``data.tag_fields``."""
    limit: int | None = Field(default=None, ge=1)
    """Use only the first N items (quick runs)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> ItemsSource:
        given = [
            name for name in ("file", "dataset", "production", "inline") if getattr(self, name) is not None
        ]
        given += ["holdout"] if self.holdout else []
        if len(given) != 1:
            raise ValueError(
                "give exactly one item source: file, dataset, holdout, production or inline"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class FewShot(StrictModel):
    """Worked examples put before each item (the fit check's k-shot variants)."""

    k: list[int] = Field(default_factory=lambda: [0])
    """Shot counts to try; 0 is zero-shot."""
    file: str | None = None
    """Where examples come from; None: the project's ``data.train`` files."""
    seed: int = 0
    """Which examples are drawn."""

    @field_validator("k", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value


class Suite(StrictModel):
    """One evaluation suite."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """Suite name (reports, ``eval list``, gates' ``suite``)."""
    description: str = ""
    """What the suite measures."""
    items: ItemsSource
    """The items."""
    system_prompt: str | None = "project"
    """``project``: the project's ``system_prompt`` for items without a system message; None: nothing
    added; any other text: that system prompt (again only for items without one)."""
    category_field: str = "category"
    """Tag used for the per-category breakdown."""
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    """Decoding settings, identical for every model compared."""
    metrics: list[MetricEntry] = Field(min_length=1)
    """Metrics: a name, or a mapping with ``name`` and options (``tuneloop eval metrics`` lists them)."""
    primary_metric: str | None = None
    """The score that sums the suite up (fit check, summaries); None: the first metric's."""
    gates: list[GateRule] = Field(default_factory=list)
    """Regression gates of this suite (added to ``eval.gates`` of tuneloop.yaml)."""
    few_shot: FewShot | None = None
    """Few-shot variants for ``eval baseline``."""
    fit_target: float | None = None
    """Primary-metric score at which the task already works; None: ``eval.fit_target``."""

    @model_validator(mode="after")
    def _known_primary(self) -> Suite:
        names = self.output_names()
        if self.primary_metric is not None and self.primary_metric not in names:
            raise ValueError(
                f"primary_metric '{self.primary_metric}' is not one of the metrics' outputs: {', '.join(names)}"
            )
        for gate in self.gates:
            if (
                gate.metric is not None
                and not any(c in gate.metric for c in "*?[")
                and gate.metric not in names
            ):
                raise ValueError(
                    f"gate on '{gate.metric}', which is not one of the metrics' outputs: {', '.join(names)}"
                )
        return self

    def output_names(self) -> list[str]:
        return [o.name for spec in self.metrics for o in outputs_of(spec)]

    @property
    def primary(self) -> str:
        return self.primary_metric or self.output_names()[0]


@dataclass(frozen=True)
class LoadedSuite:
    """A validated suite with where it came from."""

    suite: Suite
    path: Path
    base_dir: Path
    """Folder relative paths in the suite are read from."""
    reference: str
    """How it was named (a path or ``builtin:<name>``)."""

    @property
    def digest(self) -> str:
        """Hash of the suite's settings: results are comparable only between equal digests."""
        payload = json.dumps(self.suite.model_dump(mode="json", by_alias=True), sort_keys=True)
        return sha256_bytes(payload.encode())[:16]


def builtin_suites() -> list[str]:
    folder = resources.files("tuneloop.evaluate") / "suites"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _builtin_path(name: str) -> Path:
    path = Path(str(resources.files("tuneloop.evaluate") / "suites" / f"{name}.yaml"))
    if not path.is_file():
        raise NotFound(
            "unknown_suite", f"no built-in suite '{name}' (built-in: {', '.join(builtin_suites())})"
        )
    return path


def find_suite_path(reference: str, project: Project | None = None) -> tuple[Path, str]:
    """Resolve ``--suite``: ``builtin:<name>``, a YAML path, or the name of a suite in ``eval.suites``."""
    if reference.startswith(BUILTIN_PREFIX):
        name = reference.removeprefix(BUILTIN_PREFIX)
        return _builtin_path(name), f"{BUILTIN_PREFIX}{name}"
    for candidate in (Path(reference), project.resolve_path(reference) if project else None):
        if candidate is not None and candidate.is_file():
            return candidate.resolve(), reference
    if project is not None:
        for configured in project.config.eval.suites:
            if configured.startswith(BUILTIN_PREFIX):
                continue
            path = project.resolve_path(configured)
            if path.is_file() and (path.stem == reference or _suite_name(path) == reference):
                return path.resolve(), configured
    if reference in builtin_suites():
        return _builtin_path(reference), f"{BUILTIN_PREFIX}{reference}"
    raise NotFound(
        "unknown_suite",
        f"no suite '{reference}': not a file, not a suite named in eval.suites, not built-in "
        f"({', '.join(BUILTIN_PREFIX + s for s in builtin_suites())})",
        Location(reference),
    )


def _suite_name(path: Path) -> str | None:
    try:
        return load_model_from_yaml(path, Suite).name
    except Exception:  # a broken suite is reported when it is actually used
        return None


def load_suite(reference: str, project: Project | None = None) -> LoadedSuite:
    """Find and validate a suite; errors name the file and line."""
    path, shown = find_suite_path(reference, project)
    suite = load_model_from_yaml(path, Suite)
    return LoadedSuite(suite=suite, path=path, base_dir=path.parent, reference=shown)
