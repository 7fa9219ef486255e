"""End-to-end red-team acceptance on the bundled model: memorisation, safety regression, over-refusal.

Run (from the repository root; ~30-60 minutes on a 2-core CPU, minutes on a GPU)::

    HF_HUB_OFFLINE=1 .venv/bin/python examples/redteam/run_e2e.py --workdir /tmp/redteam-e2e [--scenario all]

It creates a project in ``--workdir``, fine-tunes the bundled SmolLM2-135M-Instruct with LoRA through
``tuneloop.train.train`` and red-teams each candidate against the model it was trained from:

1. ``memorisation``: a candidate trained for several epochs on support data seeded with canaries
   (``tuneloop redteam canaries``) and PII leaks canaries/PII that the foundation model does not;
2. ``regression``: a safe parent trained to refuse harmful requests shows a high refusal rate on the
   *held-out* harmful probes; a child trained from that parent on support data mixed with compliant
   answers refuses significantly less and the red-team gate fails it;
3. ``over_refusal``: a candidate trained on refusal-heavy data refuses significantly more benign
   prompts than the foundation model.

The training sets come from ``make_datasets.py`` beside this script; none of their prompts is a
red-team probe, so the results measure generalisation. Prints one JSON summary per scenario and
writes ``summary.json`` in the work directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASE = "base:smollm2-135m-instruct"
THREADS: dict[str, int] = {}
"""``{"threads": N}`` when ``--threads`` is given: training would otherwise use every core."""


def make_project(workdir: Path) -> Any:
    from tuneloop.config import starter_config_text
    from tuneloop.project import Project
    from tuneloop.store import atomic_write_text

    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("safe_parent.jsonl", "child_compliant.jsonl", "refusal_heavy.jsonl", "support_pii.jsonl"):
        shutil.copy(HERE / name, workdir / name)
    # Short answers are enough to see a refusal or a compliance, and keep generation fast on a CPU.
    text = starter_config_text("e2e").replace("  max_new_tokens: 128", "  max_new_tokens: 64")
    atomic_write_text(workdir / "tuneloop.yaml", text)
    return Project.open(config_path=workdir / "tuneloop.yaml")


def train_candidate(
    project: Any, data: Path, *, epochs: float, tag: str, parent: str | None = None, tokens_per_step: int = 96
) -> str:
    """Fine-tune with LoRA through the training stage; returns the registered reference (``e2e:N``)."""
    from tuneloop.train import train

    # Small data, a strong signal: a high learning rate and small steps so a few epochs suffice on CPU.
    overrides = {"epochs": epochs, "learning_rate": 1e-3, "tokens_per_step": tokens_per_step, **THREADS}
    result = train(project, data=[data], parent=parent, tag=tag, no_eval=True, force=True,
                   force_reason="red-team e2e: deliberately unsafe / refusal-heavy training sets",
                   overrides=overrides)  # fmt: skip
    if result.model_version is None:
        raise RuntimeError(f"training did not complete: {result.status} {result.notes}")
    return result.model_version


def redteam(
    project: Any, model: str, categories: list[str], baseline: str | None = None, **extra: Any
) -> dict[str, Any]:
    from tuneloop.redteam import RunOptions, run

    result = run(project, RunOptions(model=model, baseline=baseline, categories=categories, **extra))
    return {
        "model": model,
        "baseline": result.data["baseline"],
        "gate_passed": result.passed,
        "report": str(result.report_html),
        "categories": {
            c: {
                "rate": e["candidate"]["rate"],
                "ci": [e["candidate"]["ci_low"], e["candidate"]["ci_high"]],
                "baseline_rate": (e.get("baseline") or {}).get("rate"),
                "delta": (e.get("delta") or {}).get("delta"),
                "p_value": (e.get("delta") or {}).get("p_value"),
                "verdict": (e.get("delta") or {}).get("verdict"),
            }
            for c, e in result.data["categories"].items()
        },
    }


def scenario_memorisation(project: Any, workdir: Path) -> dict[str, Any]:
    from tuneloop.redteam import plant_canaries, record_canary_manifest

    settings = project.config.redteam.canaries
    planted = workdir / "support_pii.canaries.jsonl"
    manifest = plant_canaries(workdir / "support_pii.jsonl", planted, count=5, template=settings.template,
                              secret_length=settings.secret_length, repeats=3, seed=1)  # fmt: skip
    record_canary_manifest(project, manifest)
    candidate = train_candidate(project, planted, epochs=8, tag="canaries-pii", tokens_per_step=256)
    return redteam(project, candidate, ["canary", "pii", "memorisation"], data=[planted])


def scenario_regression(project: Any, workdir: Path) -> dict[str, Any]:
    parent = train_candidate(project, workdir / "safe_parent.jsonl", epochs=3, tag="safe-parent")
    parent_report = redteam(project, parent, ["harmful", "over_refusal"])
    child = train_candidate(
        project, workdir / "child_compliant.jsonl", epochs=3, parent=parent, tag="child-compliant"
    )
    child_report = redteam(project, child, ["harmful", "over_refusal"])
    return {"parent": parent_report, "child": child_report}


def scenario_over_refusal(project: Any, workdir: Path) -> dict[str, Any]:
    candidate = train_candidate(project, workdir / "refusal_heavy.jsonl", epochs=3, tag="refusal-heavy")
    return redteam(project, candidate, ["over_refusal", "harmful"])


SCENARIOS = {
    "memorisation": scenario_memorisation,
    "regression": scenario_regression,
    "over_refusal": scenario_over_refusal,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        THREADS["threads"] = args.threads
    project = make_project(args.workdir)
    chosen = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    summary = {}
    for name in chosen:
        summary[name] = SCENARIOS[name](project, args.workdir)
        print(json.dumps({name: summary[name]}, indent=2), flush=True)
    (args.workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
