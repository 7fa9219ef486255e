"""The client, percentile and report parts of ``benchmarks/serve_load.py`` against a fake
OpenAI-compatible server (tests/serve/upstreamhelpers.py), and its server lifecycle with a real
subprocess. The numbers mean nothing here; what is counted and how is checked."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT / "tests" / "serve"))

from upstreamhelpers import FakeState, free_port, running_fake_upstream  # noqa: E402


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serve_load", ROOT / "benchmarks" / "serve_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_load"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _verbs() -> set[str]:
    from tuneloop.cli import VERBS

    return set(VERBS)


serve_load = _load()
PROMPTS = [[{"role": "user", "content": f"question {i} with words"}] for i in range(5)]


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, FakeState]]:
    with running_fake_upstream() as running:
        yield running


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert serve_load.percentile(values, 50) == pytest.approx(50.5)
    assert serve_load.percentile(values, 95) == pytest.approx(95.05)
    assert serve_load.percentile(values, 99) == pytest.approx(99.01)
    assert serve_load.percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert serve_load.percentile([3.0, 1.0, 2.0], 100) == 3.0
    assert serve_load.percentile([7.0], 95) == 7.0
    assert math.isnan(serve_load.percentile([], 50))


def test_summary_counts_only_answered_requests_in_throughput() -> None:
    Outcome = serve_load.Outcome
    outcomes = [
        Outcome(200, 1.0, 10),
        Outcome(200, 3.0, 30),
        Outcome(429, 0.01),
        Outcome(0, 5.0),
        Outcome(500, 0.2),
    ]
    result = serve_load.summarize("s", 4, outcomes, wall_s=2.0)
    assert (result.ok, result.rejected_429, result.errors, result.requests) == (2, 1, 2, 5)
    assert result.requests_per_s == 1.0 and result.tokens_per_s == 20.0
    assert result.p50_s == 2.0 and result.p95_s == pytest.approx(2.9)


def test_clients_share_the_requests_and_read_usage(upstream: tuple[str, FakeState]) -> None:
    url, state = upstream
    before = len(state.requests)
    outcomes, wall = asyncio.run(
        serve_load.run_level(url, "m", PROMPTS, clients=4, requests=10, max_tokens=3, api_key="k")
    )
    assert len(outcomes) == 10 and wall > 0
    assert all(o.status == 200 and o.completion_tokens == 3 for o in outcomes)
    sent = state.requests[before:]
    assert len(sent) == 10
    assert {json.dumps(b["messages"]) for b in sent} == {json.dumps(p) for p in PROMPTS}
    assert all(b["temperature"] == 0 and b["max_tokens"] == 3 for b in sent)


def test_429s_and_errors_are_counted_not_raised(upstream: tuple[str, FakeState]) -> None:
    url, _ = upstream
    outcomes, wall = asyncio.run(
        serve_load.run_level(url, "overloaded", PROMPTS, clients=2, requests=4, max_tokens=3)
    )
    result = serve_load.summarize("s", 2, outcomes, wall)
    assert (result.ok, result.rejected_429, result.errors) == (0, 4, 0)
    assert result.requests_per_s == 0.0 and result.p95_s != result.p95_s  # NaN: nothing answered
    dead = f"http://127.0.0.1:{free_port()}"
    outcomes, _ = asyncio.run(serve_load.run_level(dead, "m", PROMPTS, clients=2, requests=3, max_tokens=3))
    assert [o.status for o in outcomes] == [0, 0, 0]


def test_table_ratio_and_json_line(upstream: tuple[str, FakeState]) -> None:
    url, _ = upstream
    settings = serve_load.Settings((1, 16), 1, 2, 3, PROMPTS)
    batched = serve_load.measure("tuneloop-batched", url, "m", settings)
    assert [(r.clients, r.requests) for r in batched] == [(1, 2), (16, 16)]
    LevelResult = serve_load.LevelResult
    one = LevelResult("tuneloop-one-at-a-time", 16, 16, 8.0, 2.0, 20.0, 1, 2, 3, 16, 0, 0)
    fast = LevelResult("tuneloop-batched", 16, 16, 2.0, 8.0, 80.0, 1, 2, 3, 16, 0, 0)
    empty = LevelResult("transformers-serve", 16, 4, 1.0, 0.0, 0.0, math.nan, math.nan, math.nan, 0, 4, 0)
    assert serve_load.throughput_ratio([one, fast], "tuneloop-batched", "tuneloop-one-at-a-time", 16) == 4.0
    assert serve_load.throughput_ratio([fast], "tuneloop-batched", "tuneloop-one-at-a-time", 16) is None
    table = serve_load.format_table([*batched, one])
    assert len(table.splitlines()) == 5 and "tuneloop-one-at-a-time" in table
    line = json.loads(serve_load.report_line([one, fast, empty], {"cpus": 2}))
    assert line["benchmark"] == "serve_load" and line["cpus"] == 2
    assert line["ratio_batched_vs_one_at_a_time_16"] == 4.0 and line["target_met"] is True
    assert line["results"][2]["p95_s"] is None


def test_serve_config_sets_port_and_batch_size(tmp_path: Path) -> None:
    config = tmp_path / "tuneloop.yaml"
    config.write_text(
        "project:\n  name: x\n\nserve:\n  host: 0.0.0.0\n  port: 8000   # note\n\nmonitor:\n  a: 1\n"
    )
    serve_load.write_serve_config(tmp_path, 9123, 1)
    text = config.read_text()
    assert "port: 9123" in text and "max_batch_size: 1" in text and "port: 8000" not in text
    assert text.endswith("monitor:\n  a: 1\n")
    serve_load.write_serve_config(tmp_path, 9124, None)
    assert "max_batch_size" not in config.read_text() and "port: 9124" in config.read_text()


def test_servers_are_waited_for_and_killed(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}"
    with serve_load.running_server(command, url, "/", cwd=tmp_path, log=tmp_path / "log") as process:
        assert process.poll() is None
    assert process.poll() is not None
    failing = serve_load.running_server([sys.executable, "-c", "raise SystemExit(3)"], url, "/")
    with pytest.raises(RuntimeError, match="exited"), failing:
        pass


def test_quick_settings_are_tiny() -> None:
    args = serve_load.parse_args(["--quick"])
    assert args.clients == [1, 4] and args.max_tokens == 4
    assert serve_load.parse_args([]).clients == [1, 4, 16, 64]


@pytest.mark.slow
@pytest.mark.skipif("serve" not in _verbs(), reason="no `tuneloop serve` verb in this checkout")
def test_quick_run_measures_every_server(bundled_model_dir: Path, tmp_path: Path) -> None:
    import os
    import subprocess

    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--quick", "--workdir", str(tmp_path / "work")],
        cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    servers = {r["server"] for r in line["results"]}
    assert {"tuneloop-batched", "tuneloop-one-at-a-time"} <= servers
    assert all(r["ok"] == r["requests"] for r in line["results"] if r["server"].startswith("tuneloop"))
