"""End-to-end acceptance of the evaluation stage on the support example with the bundled model.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python examples/support/run_e2e.py [--max-steps 60] [--learning-rate 1e-3]``
(about 1.5 hours on a 2-core CPU; ``--limit N`` evaluates the first N holdout items only).

The measured run in docs/evaluation.md trained the good candidate in two stages of 30 steps
(``--max-steps 30``, then ``--keep-workdir --good-from support:1 --max-steps 30 --broken-max-steps 20``).

1. copies the example (config, data, suites) into a fresh work directory;
2. trains a LoRA candidate on ``train.jsonl`` (``support:1``), evaluates it on the holdout against the
   foundation model (McNemar / bootstrap), and gates it — it must be significantly better and pass;
3. promotes it to ``support@production``;
4. trains a deliberately broken candidate on shuffled labels (the assistant answers permuted across
   examples) and gates it — it must fail: its category and priority answers are no better than
   chance, significantly worse than production (it still beats the foundation model, which does not
   produce the JSON format at all);
5. runs the forgetting check (``builtin:general``) on the good candidate, reported as a delta;
6. writes ``e2e_summary.json`` in the work directory and exits 0 only if all of the above held.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
COPIED = ["tuneloop.yaml", "train.jsonl", "holdout.jsonl", "evals"]


def fresh_project(workdir: Path) -> Path:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    for name in COPIED:
        source = HERE / name
        if source.is_dir():
            shutil.copytree(source, workdir / name)
        else:
            shutil.copy2(source, workdir / name)
    return workdir


def shuffled_labels(source: Path, target: Path, seed: int = 0) -> Path:
    """The same prompts with the assistant answers permuted across examples (labels carry no signal)."""
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers = [row["messages"][-1]["content"] for row in rows]
    random.Random(seed).shuffle(answers)
    with target.open("w", encoding="utf-8") as handle:
        for row, answer in zip(rows, answers, strict=True):
            row["messages"][-1]["content"] = answer
            fields = json.loads(answer)
            row.update({"category": fields["category"], "priority": fields["priority"]})
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return target


def broken_steps(args: argparse.Namespace) -> dict[str, Any]:
    steps = args.broken_max_steps or args.max_steps
    return {"max_steps": steps} if steps else {}


def registered(result: Any) -> str:
    """The version a training run registered; stops the script when the run did not finish."""
    if result.model_version is None:
        raise SystemExit(f"training run {result.run_name} ended '{result.status}' without a model version")
    return str(result.model_version)


def numbers(data: dict[str, Any], candidate: str, role: str, metric: str) -> dict[str, Any]:
    compared = next(
        c
        for c in data["comparisons"]
        if c["candidate"] == candidate and c["role"] == role and c["metric"] == metric
    )
    keys = (
        "candidate_mean",
        "baseline_mean",
        "delta",
        "ci",
        "p_value",
        "wins",
        "ties",
        "losses",
        "n",
        "verdict",
    )
    return {k: compared[k] for k in keys}


def evaluate(project, candidate: str, kind: str, limit: int | None) -> Any:
    from tuneloop.evaluate import record_run, run_suite

    run = run_suite(project, "support", [candidate], limit=limit)
    recorded = record_run(project, run, kind=kind)
    print(render(recorded.data, candidate), flush=True)
    return recorded


def render(data: dict[str, Any], candidate: str) -> str:
    from tuneloop.evaluate.report import SUMMARY_HEADERS, summary_rows

    lines = ["  ".join(SUMMARY_HEADERS)]
    lines += ["  ".join(str(v) for v in row) for row in summary_rows(data, candidate)]
    lines += [
        f"gate {g['status']}: {g['rule']} — {g['reason']}"
        for g in data["gates"]
        if g["candidate"] == candidate
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tuneloop-support-e2e"))
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="optimizer steps of each run (default: tuneloop's derived plan)",
    )
    parser.add_argument("--learning-rate", type=float, default=None, help="default: tuneloop's derived rate")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on the first N holdout items only")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (1 on an oversubscribed CPU)"
    )
    parser.add_argument(
        "--broken-max-steps",
        type=int,
        default=None,
        help="steps of the shuffled-labels run (default: --max-steps)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="reuse the project in --workdir instead of a fresh copy"
    )
    parser.add_argument("--good-from", default=None, help="train the good candidate on from this version")
    parser.add_argument("--skip-general", action="store_true", help="skip the forgetting check")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from tuneloop.console import RichProgress
    from tuneloop.evaluate import forget_loaded_models, record_run, run_suite
    from tuneloop.project import Project
    from tuneloop.registry import set_alias
    from tuneloop.train import train

    started = time.perf_counter()
    workdir = args.workdir if args.keep_workdir else fresh_project(args.workdir)
    project = Project.open(workdir)
    summary: dict[str, Any] = {
        "max_steps": args.max_steps,
        "limit": args.limit,
        "learning_rate": args.learning_rate,
        "broken_max_steps": args.broken_max_steps or args.max_steps,
        "good_from": args.good_from,
    }
    # tuneloop's defaults unless asked otherwise: derived batch, epochs and rate, early stopping.
    overrides: dict[str, Any] = {}
    if args.max_steps:
        overrides["max_steps"] = args.max_steps
    if args.learning_rate:
        overrides["learning_rate"] = args.learning_rate
    if args.threads:
        overrides["threads"] = args.threads

    # --good-from continues a registered version (e.g. a first stage of this script kept with
    # --keep-workdir) instead of training from the base model: two stages of N steps each.
    progress = RichProgress()  # the pre-flight and the training bar on stderr, as `tuneloop train` shows them
    good = train(
        project, parent=args.good_from, no_eval=True, overrides=overrides, tag="e2e-good", progress=progress
    )
    candidate = registered(good)
    forget_loaded_models()
    recorded = evaluate(project, candidate, "gate", args.limit)
    data = recorded.data
    summary["good"] = {
        "model": candidate,
        "train_metrics": good.metrics,
        "vs_foundation": {
            m: numbers(data, candidate, "foundation", m)
            for m in ("category_accuracy", "priority_accuracy", "json_valid", "rouge_l")
        },
        "gates": [g for g in data["gates"] if g["candidate"] == candidate],
        "gate_passed": recorded.evaluations[0].passed,
        "report": str(recorded.html_file),
    }
    if summary["good"]["gate_passed"] is not True:
        raise SystemExit(f"{candidate} failed its gate: not promoted (see {recorded.html_file})")
    set_alias(project, candidate, "production", reason="e2e: gate passed")

    shuffled = shuffled_labels(workdir / "train.jsonl", workdir / "train_shuffled.jsonl")
    broken = train(
        project,
        data=[shuffled],
        no_eval=True,
        overrides=overrides | broken_steps(args),
        tag="shuffled-labels",
        force=True,
        force_reason="deliberately broken candidate (shuffled labels) for the evaluation e2e",
        progress=progress,
    )
    broken_ref = registered(broken)
    forget_loaded_models()
    recorded = evaluate(project, broken_ref, "gate", args.limit)
    data = recorded.data
    summary["broken"] = {
        "model": broken_ref,
        "vs_foundation": {
            m: numbers(data, broken_ref, "foundation", m) for m in ("category_accuracy", "json_valid")
        },
        "vs_production": {
            m: numbers(data, broken_ref, "production", m) for m in ("category_accuracy", "priority_accuracy")
        },
        "gates": [g for g in data["gates"] if g["candidate"] == broken_ref],
        "gate_passed": recorded.evaluations[0].passed,
        "report": str(recorded.html_file),
    }

    if not args.skip_general:
        general = record_run(project, run_suite(project, "builtin:general", [candidate]))
        summary["forgetting"] = numbers(general.data, candidate, "foundation", "general_ability")
        print(render(general.data, candidate), flush=True)

    better = summary["good"]["vs_foundation"]["category_accuracy"]["verdict"] == "better"
    ok = better and summary["good"]["gate_passed"] is True and summary["broken"]["gate_passed"] is False
    summary["acceptance"] = {
        "candidate_significantly_better": better,
        "good_gate_passed": summary["good"]["gate_passed"],
        "broken_gate_failed": summary["broken"]["gate_passed"] is False,
        "ok": ok,
    }
    summary["minutes"] = round((time.perf_counter() - started) / 60, 1)
    (workdir / "e2e_summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    print(json.dumps(summary["acceptance"] | {"minutes": summary["minutes"]}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
