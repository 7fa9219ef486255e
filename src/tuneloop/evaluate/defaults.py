"""The evaluation that ends every ``tuneloop train``: the project's default suites on the new candidate.

``run_default_suites(project, "support:4")`` runs ``eval.default_suites`` (or all of ``eval.suites``)
plus the built-in general-ability suite (``eval.forgetting_check``), each against the candidate's
baselines, stores each result on the candidate's model version and returns the outcomes (the CLI
draws them with :func:`tuneloop.evaluate.commands_render.default_suites_text`). A suite that cannot run (a missing file) is reported, not raised: the
training run it follows already succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuneloop.errors import TuneloopError
from tuneloop.evaluate.suites import BUILTIN_PREFIX
from tuneloop.progress import SILENT, Progress

if TYPE_CHECKING:
    from tuneloop.evaluate.evaluations import RecordedRun
    from tuneloop.project import Project

GENERAL_SUITE = f"{BUILTIN_PREFIX}general"


@dataclass
class SuiteOutcome:
    suite: str
    recorded: RecordedRun | None = None
    error: str | None = None


@dataclass
class DefaultSuitesResult:
    """What the post-training evaluation found, per suite."""

    candidate: str
    outcomes: list[SuiteOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """False if any gate failed or a suite could not run; None when nothing was gated."""
        if any(o.error for o in self.outcomes):
            return False
        verdicts = [
            e.passed
            for o in self.outcomes
            if o.recorded
            for e in o.recorded.evaluations
            if e.passed is not None
        ]
        return None if not verdicts else all(verdicts)

    def rows(self) -> list[list[str]]:
        """suite, metric, candidate, baseline, Δ, CI, p, verdict."""
        rows = []
        for outcome in self.outcomes:
            if outcome.error:
                rows.append([outcome.suite, "(not run)", "", "", "", "", "", outcome.error])
                continue
            assert outcome.recorded is not None
            data = outcome.recorded.data
            primary = data["suite"]["primary_metric"]
            summary = data["models"][self.candidate]["summary"]
            compared = [c for c in data["comparisons"] if c["candidate"] == self.candidate]
            for metric, info in summary.items():
                matched = [c for c in compared if c["metric"] == metric]
                label = f"{metric} *" if metric == primary else metric
                if not matched:
                    rows.append([data["suite"]["name"], label, _num(info["mean"]), "", "", "", "", ""])
                for c in matched:
                    rows.append(
                        [
                            data["suite"]["name"],
                            label,
                            _num(info["mean"]),
                            f"{c['role']} {_num(c['baseline_mean'])}",
                            f"{c['delta']:+.3f}",
                            f"[{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}]",
                            f"{c['p_value']:.3g}",
                            "unreliable" if c["unreliable"] else c["verdict"],
                        ]
                    )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "passed": self.passed,
            "suites": [
                {
                    "suite": o.suite,
                    "error": o.error,
                    "evaluation_ids": [e.id for e in o.recorded.evaluations] if o.recorded else [],
                    "report_html": str(o.recorded.html_file) if o.recorded else None,
                }
                for o in self.outcomes
            ],
            "rows": self.rows(),
        }


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def default_suite_references(project: Project) -> list[str]:
    config = project.config.eval
    suites = list(config.default_suites if config.default_suites is not None else config.suites)
    if config.forgetting_check and GENERAL_SUITE not in suites and "general" not in suites:
        suites.append(GENERAL_SUITE)
    return suites


def run_default_suites(
    project: Project, candidate_reference: str, *, progress: Progress = SILENT
) -> DefaultSuitesResult:
    """Run the project's default suites on a new candidate and store the results (see module docs)."""
    from tuneloop.evaluate.evaluations import record_run
    from tuneloop.evaluate.runner import run_suite

    result = DefaultSuitesResult(candidate_reference)
    for reference in default_suite_references(project):
        try:
            run = run_suite(project, reference, [candidate_reference], progress=progress)
            result.outcomes.append(SuiteOutcome(reference, recorded=record_run(project, run)))
        except TuneloopError as exc:
            result.outcomes.append(SuiteOutcome(reference, error=str(exc)))
    return result
