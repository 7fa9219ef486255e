"""How long `tuneloop monitor drift` takes on 10,000 production vs 10,000 reference texts, embeddings
included (target: under 60 s on a 2-core CPU).

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/drift_speed.py [--count 10000]``

It builds a temporary project, registers a model version, writes the production window as a JSONL of
chat requests and the reference as a training file, and times the real stage function
(:func:`tuneloop.monitor.drift.drift`): MiniLM embeddings of both sides (no cache hits: every text is
new), both two-sample tests with 200 permutations (each side subsampled to 1,000, the shipped
``monitor.drift.max_per_side``), the descriptors, the nearest-training-neighbour search over all
10,000 x 10,000 pairs, the clustering and the stored report. Texts are CLINC150 prompts with a
numbered suffix, so all 20,000 are distinct.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CLINC = ROOT.parent / "shared" / "datasets" / "clinc150"

TARGET_S = 60.0


def prompts() -> list[str]:
    found = []
    for name in ("train_10_per_intent.jsonl", "holdout_5_per_intent.jsonl", "out_of_scope_100.jsonl"):
        for line in (CLINC / name).read_text(encoding="utf-8").splitlines():
            found.append(next(m["content"] for m in json.loads(line)["messages"] if m["role"] == "user"))
    return found


def write_files(directory: Path, count: int) -> tuple[Path, Path]:
    base = prompts()
    reference, production = directory / "reference.jsonl", directory / "production.jsonl"
    with reference.open("w") as ref, production.open("w") as prod:
        for i in range(count):
            ref.write(json.dumps({"messages": [{"role": "user", "content": f"{base[i % len(base)]} (ticket {i})"},
                                               {"role": "assistant", "content": "ok"}]}) + "\n")  # fmt: skip
            prod.write(
                json.dumps(
                    {"messages": [{"role": "user", "content": f"{base[(i * 7) % len(base)]} (case {i})"}]}
                )
                + "\n"
            )
    return reference, production


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="texts on each side")
    args = parser.parse_args()
    from tuneloop.config import starter_config_text
    from tuneloop.monitor.drift import drift
    from tuneloop.project import Project
    from tuneloop.registry import register_model_version

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        root.mkdir()
        (root / "tuneloop.yaml").write_text(starter_config_text("bench"))
        reference, production = write_files(root, args.count)
        project = Project.open(root)
        weights = root / "weights"
        weights.mkdir()
        (weights / "adapter_model.safetensors").write_bytes(b"unused")
        register_model_version(project, name="bench", kind="adapter", artifact_dir=weights,
                               base_reference="base:none", base_weights_sha256="0" * 64)  # fmt: skip
        from tuneloop.data.embeddings import sentence_embedder

        started = time.perf_counter()
        sentence_embedder()
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        [segment] = drift(project, "bench:1", production_file=production, reference=str(reference))
        total = time.perf_counter() - started
    deciding = segment.deciding_test
    print(f"{args.count} production vs {args.count} reference texts: {total:.1f} s "
          f"(embedder load {load_s:.1f} s, not counted; target {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'NOT met'})")  # fmt: skip
    print(
        f"decided by {segment.method}: statistic {deciding.statistic:.4g}, p = {deciding.p_value:.3g}"
        if deciding
        else segment.note
    )
    print(json.dumps({"benchmark": "drift_speed", "count": args.count, "seconds": round(total, 1),
                      "embedder_load_s": round(load_s, 1), "target_s": TARGET_S, "met": total < TARGET_S}))  # fmt: skip


if __name__ == "__main__":
    main()
