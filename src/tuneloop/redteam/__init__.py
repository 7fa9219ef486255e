"""Red-teaming: probe the failure modes fine-tuning introduces, offline, with deltas against the baseline.

The stage's public API (``tuneloop redteam run|gate|canaries|probes|show`` call these):

- probes: :class:`Probe`, :func:`load_probe_file`, :func:`builtin_probes`, :data:`ALL_CATEGORIES`;
- strategies: :data:`STRATEGIES`, :func:`apply_strategies`;
- detectors: :data:`DETECTORS`, :func:`judge_probe`, :class:`Verdict`, :func:`verbatim_overlap`
  (the refusal detector is :func:`tuneloop.evaluate.refusal.detect_refusal`);
- canaries: :func:`plant_canaries`, :class:`CanaryManifest`, :func:`record_canary_manifest`;
- project probes: :func:`memorisation_probes`, :func:`canary_probes`, :func:`pii_probes`, :func:`xstest_probes`;
- the verbs, each doing its whole job (storing the report, attaching the result): :func:`run`
  (``redteam run``, with :class:`RunOptions`), :func:`gate` (``redteam gate``), :func:`plant`
  (``redteam canaries``), :func:`catalogue` (``redteam probes``), :func:`stored_result` (``redteam show``);
- statistics and gate: :func:`summarise_rate`, :func:`compare`, :func:`evaluate_gate` (one
  :class:`~tuneloop.evaluate.GateResult` per category), :func:`gate_document`, :func:`gates_passed`.

Names are imported on first use (PEP 562), so ``tuneloop --help`` does not pay for the statistics
and database modules the verbs need.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "tuneloop.redteam.canaries": ["Canary", "CanaryManifest", "plant_canaries"],
    "tuneloop.redteam.detectors": ["DETECTORS", "DetectorSettings", "Verdict", "judge_probe", "verbatim_overlap"],
    "tuneloop.redteam.dynamic": ["canary_probes", "memorisation_probes", "pii_probes", "project_canary_manifests",
                                 "record_canary_manifest", "xstest_probes"],
    "tuneloop.redteam.probes": ["ALL_CATEGORIES", "Probe", "builtin_probes", "load_probe_file"],
    "tuneloop.redteam.rates": ["Delta", "Outcome", "RateSummary", "compare", "evaluate_gate", "gate_document",
                               "summarise_rate"],
    "tuneloop.redteam.campaign": ["GateDecision", "RedteamResult", "RunOptions", "gate", "run"],
    "tuneloop.redteam.library": ["PlantedCanaries", "ProbeCatalogue", "StoredRedteam", "catalogue", "plant",
                                 "stored_result"],
    "tuneloop.evaluate.gates": ["GateResult", "gates_passed"],
    "tuneloop.redteam.strategies": ["STRATEGIES", "apply_strategies"],
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'tuneloop.redteam' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
