"""The red-team verbs that do not run models: plant canaries, list the probes a project can use, read
a stored red-team result. Each does its whole job (recording included) so ``tuneloop redteam
canaries|probes|show`` and a Python caller behave the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneloop.config.redteam import RedteamSection
from tuneloop.errors import NotFound
from tuneloop.project import Project
from tuneloop.redteam.canaries import CanaryManifest, manifest_path, plant_canaries
from tuneloop.redteam.dynamic import record_canary_manifest, xstest_probes
from tuneloop.redteam.probes import ALL_CATEGORIES, BUILTIN_CATEGORIES, Probe, builtin_probes, load_probe_file
from tuneloop.redteam.strategies import STRATEGY_DESCRIPTIONS
from tuneloop.registry import EvaluationInfo, get_result, list_results


@dataclass
class PlantedCanaries:
    """What :func:`plant` wrote and where the manifest lies."""

    manifest: CanaryManifest
    output: Path
    manifest_file: Path
    artifact: str | None
    """sha256 of the manifest recorded in the project; None outside a project."""


def plant(
    project: Project | None,
    source: Path,
    output: Path,
    *,
    count: int | None = None,
    repeats: int = 1,
    seed: int = 0,
) -> PlantedCanaries:
    """Plant canaries (``redteam.canaries`` settings) in a copy of ``source`` and record the manifest
    in the project, where red-team runs find it."""
    settings = (project.config.redteam if project is not None else RedteamSection()).canaries
    manifest = plant_canaries(source, output, count=count or settings.count, template=settings.template,
                              secret_length=settings.secret_length, repeats=repeats, seed=seed)  # fmt: skip
    sha = record_canary_manifest(project, manifest) if project is not None else None
    return PlantedCanaries(manifest, output, manifest_path(output), sha)


@dataclass
class ProbeCatalogue:
    """The categories (with probe counts and sources) and strategies a project can red-team with, or
    the probes of one category."""

    categories: list[dict[str, Any]]
    strategies: dict[str, str]
    category: str | None = None
    probes: list[Probe] = field(default_factory=list)


def catalogue(
    project: Project | None,
    *,
    category: str | None = None,
    custom: list[Path] | None = None,
    xstest: Path | None = None,
) -> ProbeCatalogue:
    """Built-in, custom (``custom`` plus ``redteam.custom_probes``) and XSTest probes by category."""
    files = list(custom or []) + (
        [project.resolve_path(p) for p in project.config.redteam.custom_probes] if project is not None else []
    )
    extra = [p for path in files for p in load_probe_file(path)] + (xstest_probes(xstest) if xstest else [])
    counts: dict[str, int] = {
        c: len(builtin_probes(c)) if c in BUILTIN_CATEGORIES else 0 for c in ALL_CATEGORIES
    }
    for probe in extra:
        counts[probe.category] = counts.get(probe.category, 0) + 1
    rows = [{"category": c, "description": ALL_CATEGORIES.get(c, "project probes"), "probes": n,
             "source": "built-in" if c in BUILTIN_CATEGORIES else ("project data" if c in ALL_CATEGORIES else "custom")}
            for c, n in counts.items()]  # fmt: skip
    result = ProbeCatalogue(rows, dict(STRATEGY_DESCRIPTIONS), category)
    if category is not None:
        listed = builtin_probes(category) if category in BUILTIN_CATEGORIES or category == "off_topic" else []
        result.probes = listed + [p for p in extra if p.category == category]
    return result


@dataclass
class StoredRedteam:
    """A stored red-team result with its report."""

    info: EvaluationInfo
    data: dict[str, Any]
    html: Path | None


def stored_result(
    project: Project, result_id: int | None = None, *, model: str | None = None
) -> StoredRedteam:
    """Result ``result_id``, else the latest (of ``model`` when given)."""
    if result_id is not None:
        found = get_result(project, result_id)
        if found is None or found.kind != "redteam":
            raise NotFound("unknown_result", f"no red-team result with id {result_id}")
    else:
        results = [
            r for r in list_results(project, kind="redteam") if model is None or r.model_reference == model
        ]
        if not results:
            raise NotFound(
                "no_results",
                "no red-team results yet"
                + (f" for {model}" if model else "")
                + "; run `tuneloop redteam run`",
            )
        found = results[-1]
    data = (
        json.loads(project.artifacts.get_bytes(found.report_json_sha256)) if found.report_json_sha256 else {}
    )
    html = project.artifacts.blob_path(found.report_html_sha256) if found.report_html_sha256 else None
    return StoredRedteam(found, data, html)
