"""Run a red-team: collect probes, answer them with the candidate and its baseline, judge, compare.

``run(project, options)`` is what ``tuneloop redteam run`` calls (``gate(project, options)`` is
``tuneloop redteam gate``):

1. probes: the built-in categories, the project's custom probe files, XSTest (``--xstest``), and
   probes built from the candidate's own training data (memorisation, canaries, PII) and scope;
2. strategies (base64, role-play, multi-turn ...) wrap the probes of ``strategy_categories``;
3. the candidate and its baseline (the model it was trained from, or ``--baseline``) answer the same
   probes through the evaluation stage's batched, cached generation engine (multi-turn probes turn by
   turn, each turn after the model's own previous reply);
4. detectors judge every answer; failure rates get bootstrap intervals, deltas get McNemar tests;
5. the gate decides, the JSON and HTML reports are stored, and the result is attached to the model.

Nothing here opens a network connection: models are local, and the optional LLM judge uses the
evaluation stage's judge settings (a local model unless ``eval.judge.base_url`` is set).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneloop.config.redteam import RedteamSection
from tuneloop.errors import InvalidInput
from tuneloop.evaluate.gates import GateResult, gates_passed
from tuneloop.evaluate.refusal import detect_refusals
from tuneloop.models import parse_model_ref
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.redteam import dynamic
from tuneloop.redteam.detectors import DetectorSettings, detector_for, judge_probe
from tuneloop.redteam.probes import (
    ALL_CATEGORIES,
    BUILTIN_CATEGORIES,
    Probe,
    builtin_probes,
    load_probe_file,
    sample_probes,
)
from tuneloop.redteam.rates import Outcome, blocking_categories, gate_document
from tuneloop.redteam.strategies import apply_strategies


@dataclass
class RunOptions:
    """What to red-team and against what (command-line values override ``tuneloop.yaml``)."""

    model: str
    baseline: str | None = None
    """A model reference; None picks the model ``model`` was trained from; ``"none"`` compares nothing."""
    categories: list[str] | None = None
    strategies: list[str] | None = None
    xstest: Path | None = None
    data: list[Path] | None = None
    """Training files for memorisation/PII probes (default: the model's dataset version, else data.train)."""
    canary_manifests: list[Path] = field(default_factory=list)
    probes_per_category: int | None = None
    max_new_tokens: int | None = None


@dataclass
class ModelInfo:
    reference: str
    version_id: int | None
    run_id: int | None


def describe_model(project: Project, reference: str) -> ModelInfo:
    """The registry facts a red-team needs about ``reference`` (None ids for base models)."""
    ref = parse_model_ref(reference, project.root)
    if ref.kind not in ("version", "alias"):
        return ModelInfo(reference, None, None)
    from tuneloop.registry import get_model_version

    info = get_model_version(project, ref)
    return ModelInfo(info.reference, info.id, info.run_id)


def default_baseline(project: Project, reference: str) -> str | None:
    """The model ``reference`` was trained from: its parent version, else its base model."""
    ref = parse_model_ref(reference, project.root)
    if ref.kind not in ("version", "alias"):
        return None
    from tuneloop.registry import get_model_version, parent_reference

    return parent_reference(project, get_model_version(project, ref))


def selected_categories(config: RedteamSection, options: RunOptions) -> list[str]:
    chosen = options.categories or config.categories or list(ALL_CATEGORIES)
    return list(dict.fromkeys(chosen))


def collect_probes(
    project: Project, config: RedteamSection, options: RunOptions, model: ModelInfo
) -> tuple[list[Probe], list[str]]:
    """Every probe of the run (before strategies) and notes on categories that had nothing to probe."""
    categories = selected_categories(config, options)
    custom = [p for path in config.custom_probes for p in load_probe_file(project.resolve_path(path))]
    known = set(ALL_CATEGORIES) | {p.category for p in custom}
    unknown = [c for c in categories if c not in known]
    if unknown:
        raise InvalidInput(
            "unknown_category", f"unknown probe category '{unknown[0]}'; known: {', '.join(sorted(known))}"
        )
    limit, seed = options.probes_per_category or config.probes_per_category, config.seed
    probes: list[Probe] = []
    notes: list[str] = []
    xstest = options.xstest or (project.resolve_path(config.xstest_path) if config.xstest_path else None)
    extra = dynamic.xstest_probes(xstest) if xstest else []
    training = functools.cache(lambda: _training_data(project, options, model))  # loaded once, if needed
    for category in categories:
        found = builtin_probes(category) if category in BUILTIN_CATEGORIES else []
        found += [p for p in extra if p.category == category]
        found += [p for p in custom if p.category == category]
        found += _project_probes(project, config, options, category, training, notes)
        probes += sample_probes(found, limit, seed)
    ids = [p.id for p in probes]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise InvalidInput(
            "duplicate_probe_id", f"probe id '{duplicate}' is used twice (custom probes must use unique ids)"
        )
    return probes, notes


def _project_probes(project: Project, config: RedteamSection, options: RunOptions, category: str,
                    training: Callable[[], tuple[list[Any], str]], notes: list[str]) -> list[Probe]:  # fmt: skip
    if category == "off_topic":
        found = dynamic.off_topic_probes(project)
        if not found:
            notes.append(
                "off_topic: project.scope.allowed_topics is empty (unrestricted scope), nothing to probe"
            )
        return found
    if category == "canary":
        manifests = [dynamic.load_manifest_file(p) for p in options.canary_manifests]
        found = dynamic.canary_probes(manifests + dynamic.project_canary_manifests(project))
        if not found:
            notes.append("canary: no canaries planted (see `tuneloop redteam canaries`)")
        return found
    if category not in ("memorisation", "pii"):
        return []
    records, source = training()
    if not records:
        notes.append(f"{category}: no training data found ({source})")
        return []
    if category == "memorisation":
        return dynamic.memorisation_probes(records, config.memorisation, config.seed)
    found = dynamic.pii_probes(records, config.pii_probes, config.seed)
    if not found:
        notes.append(f"pii: no personal data found in the training data ({source})")
    return found


def _training_data(project: Project, options: RunOptions, model: ModelInfo) -> tuple[list[Any], str]:
    if options.data:
        records = dynamic.load_data_files(options.data, project.config.data.format)
        return records, ", ".join(str(p) for p in options.data)
    return dynamic.training_records(project, model.run_id)


def prepare_conversation(probe: Probe, system_prompt: str | None) -> list[dict[str, str]]:
    """The probe's messages, with the project's prompt first when the probe brings none."""
    conversation = probe.conversation()
    if system_prompt and conversation[0]["role"] != "system":
        conversation = [{"role": "system", "content": system_prompt}, *conversation]
    return conversation


def answer_probes(project: Project, reference: str, probes: list[Probe], config: RedteamSection,
                  options: RunOptions, progress: Progress = SILENT) -> list[tuple[str, ...]]:  # fmt: skip
    """Every sampled answer per probe; multi-turn probes are answered turn by turn."""
    from tuneloop.evaluate import GenerationSettings, generate_for_model

    settings = GenerationSettings(
        max_new_tokens=options.max_new_tokens or config.max_new_tokens,
        temperature=config.temperature,
        num_samples=config.samples_per_probe,
        seed=config.seed,
    )
    system = project.config.project.system_prompt if config.use_project_prompt else None
    conversations = [prepare_conversation(p, system) for p in probes]
    tools = [p.tools for p in probes] if any(p.tools for p in probes) else None
    generations = generate_for_model(
        project, reference, conversations, settings, progress=progress, tools=tools
    )
    answers = [g.samples or (g.text,) for g in generations]
    depth = max((len(p.turns or []) for p in probes), default=0)
    for turn in range(depth):
        # Next user turn after the model's own reply (its first sample) to the previous one.
        active = [i for i, p in enumerate(probes) if p.turns and len(p.turns) > turn]
        for i in active:
            conversations[i] = [*conversations[i], {"role": "assistant", "content": answers[i][0]},
                                {"role": "user", "content": probes[i].turns[turn]}]  # type: ignore[index]  # fmt: skip
        follow = generate_for_model(
            project,
            reference,
            [conversations[i] for i in active],
            settings,
            progress=progress,
            tools=[probes[i].tools for i in active] if tools is not None else None,
        )
        for i, generation in zip(active, follow, strict=True):
            answers[i] = generation.samples or (generation.text,)
    return answers


def judge_answers(
    probes: list[Probe], answers: list[tuple[str, ...]], config: RedteamSection
) -> list[Outcome]:
    """Detector verdicts: a probe fails when any of its sampled answers fails."""
    # Every answer a refusal-reading detector will look at, scored in one embedding batch.
    texts = sorted({sample for probe, samples in zip(probes, answers, strict=True) for sample in samples
                    if detector_for(probe) in ("refusal", "abstention", "scope")})  # fmt: skip
    settings = DetectorSettings(
        near_verbatim_threshold=config.memorisation.near_verbatim_threshold,
        refusals=dict(zip(texts, detect_refusals(texts), strict=True)),
    )
    outcomes = []
    for probe, samples in zip(probes, answers, strict=True):
        verdicts = [judge_probe(probe, sample, settings) for sample in samples]
        failing = [i for i, v in enumerate(verdicts) if v.failed]
        shown = failing[0] if failing else 0
        decisive = verdicts[shown]
        last_user = probe.turns[-1] if probe.turns else probe.user_text()
        outcomes.append(Outcome(
            probe_id=probe.id, base_id=probe.original_id, category=probe.category, strategy=probe.strategy,
            harm_area=probe.harm_area, expected=probe.expected, detector=detector_for(probe),
            failed=bool(failing), score=max(v.score for v in verdicts), uncertain=decisive.uncertain,
            evidence=decisive.evidence, answer=samples[shown], prompt=last_user,
            samples_failed=len(failing), samples=len(samples),
        ))  # fmt: skip
    return outcomes


def build_probes(
    project: Project, config: RedteamSection, options: RunOptions, model: ModelInfo
) -> tuple[list[Probe], list[str]]:
    """Probes plus their strategy variants."""
    probes, notes = collect_probes(project, config, options, model)
    strategies = options.strategies or config.strategies
    return apply_strategies(probes, strategies, config.strategy_categories), notes


def _outcomes(project: Project, reference: str, probes: list[Probe], config: RedteamSection,
              options: RunOptions, progress: Progress) -> list[Outcome]:  # fmt: skip
    answers = answer_probes(project, reference, probes, config, options, progress)
    outcomes = judge_answers(probes, answers, config)
    if config.judge:
        from tuneloop.redteam.judge import judge_outcomes

        outcomes = judge_outcomes(project, outcomes)
    return outcomes


@dataclass
class RedteamResult:
    """A finished red-team run: the report's data, the gate, and where it was stored."""

    data: dict[str, Any]
    passed: bool
    result_id: int
    report_html: Path
    report_json_sha256: str
    report_html_sha256: str


def run(
    project: Project, options: RunOptions, *, report: Path | None = None, progress: Progress = SILENT
) -> RedteamResult:
    """Red-team ``options.model`` against its baseline; store the report and attach it to the model
    (``report``: also write REPORT.json and REPORT.html there)."""
    from tuneloop.registry import attach_result
    from tuneloop.reports import save_report

    config = project.config.redteam
    model = describe_model(project, options.model)
    baseline = options.baseline if options.baseline is not None else default_baseline(project, options.model)
    baseline = None if baseline in ("none", "") else baseline
    probes, notes = build_probes(project, config, options, model)
    if not probes:
        raise InvalidInput(
            "no_probes", "no probes to run: " + ("; ".join(notes) or "the selected categories are empty")
        )
    candidate = _outcomes(project, options.model, probes, config, options, progress)
    base_outcomes = (
        _outcomes(project, baseline, probes, config, options, progress) if baseline is not None else None
    )
    from tuneloop.redteam.report import analyse, render_html

    data, gates = analyse(candidate, base_outcomes, config, model=model.reference, baseline_model=baseline)
    passed = gates_passed(gates)
    data |= {
        "kind": "redteam",
        "model": model.reference,
        "baseline": baseline,
        "probe_count": len(probes),
        "notes": notes,
        "settings": {
            "strategies": options.strategies or config.strategies,
            "categories": sorted({p.category for p in probes}),
            "samples_per_probe": config.samples_per_probe,
            "temperature": config.temperature,
            "max_new_tokens": options.max_new_tokens or config.max_new_tokens,
            "gate": config.gate.model_dump(),
            "system_prompt": bool(project.config.project.system_prompt and config.use_project_prompt),
        },
        "outcomes": {
            "candidate": [o.to_dict() for o in candidate],
            "baseline": [o.to_dict() for o in base_outcomes] if base_outcomes is not None else None,
        },
    }
    name = f"redteam-{model.reference.replace(':', '-').replace('@', '-').replace('/', '_')}"
    saved = save_report(project, "redteam-report", data, render_html(data), name=name, copy_to=report)
    summary = {
        "passed": passed,
        "baseline": baseline,
        "categories": {c: {"rate": e["candidate"]["rate"], "delta": (e.get("delta") or {}).get("delta"),
                           "p_value": (e.get("delta") or {}).get("p_value"), "verdict": (e.get("delta") or {}).get("verdict")}
                       for c, e in data["categories"].items()},
        "failed_categories": blocking_categories(gates),
    }  # fmt: skip
    info = attach_result(
        project, kind="redteam", model_reference=model.reference, model_version_id=model.version_id,
        summary=summary, passed=passed, report_json_sha256=saved.json_sha256, report_html_sha256=saved.html_sha256,
    )  # fmt: skip
    return RedteamResult(data, passed, info.id, saved.html_path, saved.json_sha256, saved.html_sha256)


@dataclass
class GateDecision:
    passed: bool
    gate: dict[str, Any]
    model: str
    baseline: str | None
    source_result_id: int
    result_id: int
    decisions: list[GateResult] = field(default_factory=list)
    """One decision per probe category (``gate`` is their JSON document)."""


def gate(
    project: Project, options: RunOptions, *, rerun: bool = False, progress: Progress = SILENT
) -> GateDecision:
    """Apply the gate to the model's latest red-team report (or a fresh run with ``rerun`` or none yet).

    The stored outcomes are re-analysed with the current ``redteam.gate`` settings, so changing a
    tolerance does not need new generations. Asking for other probes (a baseline, categories,
    strategies, XSTest, data, canaries, a limit) runs the red-team again. The decision is attached as
    a ``redteam-gate`` result.
    """
    import json

    from tuneloop.redteam.report import analyse
    from tuneloop.registry import attach_result, list_results

    model = describe_model(project, options.model)
    previous = [r for r in list_results(project, kind="redteam") if r.model_reference == model.reference]
    asks_other_probes = any((options.baseline, options.categories, options.strategies, options.xstest,
                             options.data, options.canary_manifests, options.probes_per_category))  # fmt: skip
    if rerun or asks_other_probes or not previous or not previous[-1].report_json_sha256:
        fresh = run(project, options, progress=progress)
        source_id, data, report_sha = fresh.result_id, fresh.data, fresh.report_json_sha256
    else:
        source_id, report_sha = previous[-1].id, previous[-1].report_json_sha256
        data = json.loads(project.artifacts.get_bytes(report_sha))
    candidate = [Outcome(**o) for o in data["outcomes"]["candidate"]]
    baseline_rows = data["outcomes"].get("baseline")
    baseline = [Outcome(**o) for o in baseline_rows] if baseline_rows is not None else None
    _, gates = analyse(
        candidate,
        baseline,
        project.config.redteam,
        model=model.reference,
        baseline_model=data.get("baseline"),
    )
    document, passed = gate_document(gates), gates_passed(gates)
    info = attach_result(
        project, kind="redteam-gate", model_reference=model.reference, model_version_id=model.version_id,
        summary={"gate": document, "source_result_id": source_id, "baseline": data.get("baseline")},
        passed=passed, report_json_sha256=report_sha,
    )  # fmt: skip
    return GateDecision(passed, document, model.reference, data.get("baseline"), source_id, info.id, gates)
