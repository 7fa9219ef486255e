"""The production loop on the real bundled model: serve, replay traffic, detect drift, take feedback,
retrain on the policy. Run it in a project where ``make demo`` promoted ``support:1``:

    HF_HUB_OFFLINE=1 .venv/bin/python examples/support/production_loop.py demo-project

1. starts ``tuneloop serve`` (the project's ``support@production``) and replays 40 same-domain tickets
   (``production_sample.jsonl``) through the openai SDK, 8 clients at a time;
2. ``monitor drift`` on that window (expected: no drift) and ``monitor run --dry-run`` (no retraining);
3. replays three windows of 40 requests from another domain (CLINC150 banking and travel requests,
   from ``../shared/datasets/clinc150``), checks drift after each (expected: drifting, drifting,
   sustained), and sends a corrected answer for two requests of each window through ``/v1/feedback``;
4. ``monitor run --dry-run`` (expected: would retrain), then ``monitor run`` (retrains on the training
   data plus the curated corrections, gates the candidate against production, promotes it only if
   every gate passes).

It writes the policy it needs (``monitor.retrain``, and ``redteam.probes_per_category: 3`` so the
candidate's red-team gate takes minutes on a CPU) into the project's ``tuneloop.yaml`` if that has no
policy, and prints each step's result. The numbers quoted in docs/monitoring.md come from this script.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import httpx
from openai import OpenAI

HERE = Path(__file__).resolve().parent
CLINC = HERE.parents[2] / "shared" / "datasets" / "clinc150"
PORT = int(os.environ.get("LOOP_PORT", "8766"))
POLICY = """
monitor:
  retrain:
    when: [[drift_sustained, {min_curated: 4}]]
    promote: production
"""
CORRECTION = json.dumps({"category": "other", "priority": "low",
                         "reply": "This is not an Acme Cloud support request; please contact your bank or travel agent."})  # fmt: skip


def tuneloop(*args: str) -> dict:
    """Run a verb with --json and return its document (exit codes 0 and 1 are results, not failures)."""
    done = subprocess.run([sys.executable, "-m", "tuneloop", *args, "--json"], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"tuneloop {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout)


def shifted_prompts(count: int, seed: int) -> list[str]:
    rows = [json.loads(line) for line in (CLINC / "train_10_per_intent.jsonl").read_text().splitlines()]
    prompts = [next(m["content"] for m in row["messages"] if m["role"] == "user") for row in rows]
    return random.Random(seed).sample(prompts, count)


def replay(client: OpenAI, prompts: list[str]) -> list[str]:
    def ask(prompt: str) -> str:
        reply = client.chat.completions.create(model="support@production", max_tokens=64, temperature=0,
                                               messages=[{"role": "user", "content": prompt}])  # fmt: skip
        return reply.id

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(ask, prompts))


def drift_since(start: datetime) -> dict:
    segment = tuneloop("monitor", "drift", "support@production", "--since", start.isoformat())["segments"][0]
    deciding = next(t for t in segment["tests"] if t["method"] == segment["method"])
    print(f"  drift: {segment['drift']} (MMD {deciding['statistic']:.4f} > {deciding['threshold']:.4f}? "
          f"p = {deciding['p_value']:.3f}; {segment['n_production']} inputs); state {segment['state']['state']}; "
          f"novel inputs {segment['novelty']['share']:.0%}; moved: {', '.join(segment['moved_descriptors']) or 'none'}")  # fmt: skip
    return segment


def main() -> None:
    project = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-project").resolve()
    os.chdir(project)
    add_policy(project / "tuneloop.yaml")
    key = tuneloop("keys", "create", f"loop-{int(time.time())}")["secret"]
    server = subprocess.Popen([sys.executable, "-m", "tuneloop", "serve", "--port", str(PORT)],
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{PORT}"
        wait_until_ready(base, key)
        client = OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=300)
        print("1. same-domain traffic: 40 tickets")
        start = datetime.now(UTC)
        replay(client, [json.loads(line)["messages"][0]["content"]
                        for line in (project / "production_sample.jsonl").read_text().splitlines()[:40]])  # fmt: skip
        time.sleep(2)  # the request log is written in batches
        drift_since(start)
        print(f"  policy (dry run): {tuneloop('monitor', 'run', '--dry-run')['action']}")
        print("2. shifted traffic: three windows of 40 banking and travel requests, with corrections")
        for window in range(3):
            start = datetime.now(UTC)
            ids = replay(client, shifted_prompts(40, seed=window))
            time.sleep(2)
            drift_since(start)
            for request_id in ids[:2]:
                httpx.post(f"{base}/v1/feedback", headers={"Authorization": f"Bearer {key}"},
                           json={"id": request_id, "rating": 1, "corrected_answer": CORRECTION}).raise_for_status()  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    dry = tuneloop("monitor", "run", "--dry-run")
    print(
        f"3. policy (dry run): {dry['action']}: "
        + "; ".join(f"{c['condition']}: {c['detail']}" for c in dry["conditions"])
    )
    started = time.perf_counter()
    real = tuneloop("monitor", "run")
    print(f"4. policy: {real['action']} in {time.perf_counter() - started:.0f} s: candidate {real['candidate']}, "
          f"status {real['status']}, gates {json.dumps(real['outcome'].get('gates'))}, promoted {real['outcome'].get('promoted')}")  # fmt: skip
    dataset = real["outcome"].get("dataset", {})
    print(f"   retraining data: dataset version {dataset.get('version')} ({dataset.get('records')} examples, "
          f"data gate passed: {dataset.get('gate_passed')}) from {'; '.join(dataset.get('from', []))}")  # fmt: skip
    if real.get("candidate"):
        lineage = tuneloop("registry", "show", real["candidate"])["version"]["version"]["lineage"]
        print(
            f"   lineage of {real['candidate']}: run {lineage['run']}, dataset version {lineage['dataset_version_id']}"
        )


def wait_until_ready(base: str, key: str) -> None:
    while True:
        try:
            if (
                httpx.get(f"{base}/ready", headers={"Authorization": f"Bearer {key}"}, timeout=5).status_code
                == 200
            ):
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(1)


def add_policy(config: Path) -> None:
    """Give the project the retraining policy this scenario exercises, unless it has one."""
    from ruamel.yaml import YAML

    from tuneloop.store import atomic_write_text

    yaml = YAML()
    document = yaml.load(config.read_text(encoding="utf-8"))
    monitor = document.setdefault("monitor", {})
    if "retrain" in monitor:
        return
    monitor["retrain"] = yaml.load(POLICY)["monitor"]["retrain"]
    # The retraining's red-team gate runs a fresh campaign on the candidate; 3 probes per category keep
    # it to minutes on a CPU, as `make demo`'s `redteam run --limit 3` does.
    document.setdefault("redteam", {}).setdefault("probes_per_category", 3)
    text = StringIO()
    yaml.dump(document, text)
    atomic_write_text(config, text.getvalue())


if __name__ == "__main__":
    main()
