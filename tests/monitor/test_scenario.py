"""The production loop end to end on the tiny model: serve a fine-tuned version, replay same-domain
traffic through the openai SDK (no drift, no retraining), then shifted traffic plus corrections through
``/v1/feedback`` (drift detected and sustained over three windows, the policy fires in a dry run and
then for real, a new version is registered with lineage to the curated requests, its gates decide the
promotion)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from apphelpers import serving
from tests.monitor.monitorhelpers import BILLING, COOKING, texts, trained_project

from tuneloop.data.versions import get_dataset_version, load_dataset_version_records
from tuneloop.monitor.drift import drift
from tuneloop.monitor.retrain import monitor_run
from tuneloop.project import Project
from tuneloop.registry import alias_target, get_model_version
from tuneloop.serve.backends import make_backend
from tuneloop.serve.keys import create_key

PROJECT = """
project: {{name: shop, scope: {{allowed_topics: [billing, invoices]}}}}
model: {{base: {model}, max_length: 256}}
data:
  train: [train.jsonl]
  embeddings: {{enabled: false}}
  volume: {{behaviour: {{fail_below: 5, warn_below: 5}}, per_category: {{fail_below: 1, warn_below: 1}}}}
train: {{max_steps: 3, tokens_per_step: 64, learning_rate: 0.003, eval_after_train: false, threads: 1}}
eval: {{forgetting_check: false, suites: [billing.yaml]}}
redteam: {{categories: [off_topic], probes_per_category: 3, max_new_tokens: 8}}
monitor:
  drift: {{min_window: 20, sustain_windows: 3}}
  retrain:
    when: [[drift_sustained, {{min_curated: 2}}]]
    promote: production
"""


@pytest.fixture
def shop(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """``shop:1`` trained on 60 billing questions, in production."""
    monkeypatch.delenv("TUNELOOP_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "Billing will reply."}]}
            for q in texts(BILLING, 66, seed=1)]  # fmt: skip
    return trained_project(
        tmp_path / "shop", PROJECT.format(model=tiny_model_dir), rows, suite="billing", holdout=6
    )


def _replay(client: openai.OpenAI, prompts: list[str]) -> list[str]:
    ids = []
    for prompt in prompts:
        reply = client.chat.completions.create(model="shop@production", max_tokens=3, temperature=0,
                                               messages=[{"role": "user", "content": prompt}])  # fmt: skip
        assert reply.model == "shop:1"
        ids.append(reply.id)
    return ids


def test_drift_feedback_and_retraining_close_the_loop(shop: Project) -> None:
    secret = create_key(shop, "shop-app")[1]
    section = shop.config.serve.model_copy(update={"alias_refresh_s": 0.0})
    with serving(shop, make_backend(shop, section)) as served:
        client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=secret, max_retries=0, timeout=60)
        start = datetime.now(UTC)
        _replay(client, texts(BILLING, 30, seed=2))
        served.logged()  # flush the request log
        [same] = drift(shop, "shop@production", since=start)
        assert same.drift is False and same.state.state == "stable" and same.n_production == 30
        quiet = monitor_run(shop, dry_run=True)
        assert quiet.action == "none"

        states, corrected = [], []
        for window in range(3):
            start = datetime.now(UTC)
            ids = _replay(client, texts(COOKING, 25, seed=10 + window))
            served.logged()
            [segment] = drift(shop, "shop@production", since=start)
            states.append(segment.state.state)
            corrected += ids[:1]
        assert states == ["drifting", "drifting", "sustained"]
        for request_id in corrected:
            answer = served.post("/v1/feedback", secret, json={"id": request_id, "rating": 1,
                                 "corrected_answer": "Please ask our cooking partner; we handle billing."})  # fmt: skip
            assert answer.status_code == 200, answer.text

    dry = monitor_run(shop, dry_run=True)
    assert dry.action == "would_retrain" and {c.condition: c.held for c in dry.conditions} == {
        "drift_sustained": True, "min_curated: 2": True}  # fmt: skip
    assert alias_target(shop, "shop", "production").reference == "shop:1"

    real = monitor_run(shop)
    assert real.action == "retrain" and real.status == "completed", real.outcome
    candidate = get_model_version(shop, real.candidate)
    records = load_dataset_version_records(
        shop, get_dataset_version(shop, str(candidate.lineage["dataset_version_id"]))
    )
    curated_sources = {r.source.file for r in records if r.source.file.startswith("request_log/")}
    assert curated_sources == {f"request_log/{request_id}" for request_id in corrected}
    promoted = real.outcome["promoted"]
    assert alias_target(shop, "shop", "production").reference == (real.candidate if promoted else "shop:1")
    checks = {c["name"]: c["passed"] for c in real.outcome["promotion"]["checks"]}
    assert promoted == all(checks.values())
