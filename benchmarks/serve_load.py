"""Serving load: N concurrent chat clients against ``tuneloop serve`` (batched, its defaults), the same
server answering one request at a time, and ``transformers serve`` (the field's plain baseline).

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/serve_load.py [--clients 1 4 16 64] [--quick]``

Every server runs the bundled SmolLM2-135M-Instruct. tuneloop serves it as a registered version
(``bench@production``, full weights) of a temporary project; the one-at-a-time server is the same
project with ``serve.max_batch_size: 1``. ``transformers serve`` gets the converted model directory
(``--tf-continuous-batching`` adds a run with its continuous batching). Each client sends CLINC150
requests (the intent classification prompt, greedy, ``max_tokens`` 32) back to back; each level sends
``max(clients * requests_per_client, min_requests)`` requests after one warm-up request. Reported per
server and client count: requests/s, completion tokens/s, p50/p95/p99 latency, and the count of 200,
429 and other answers. Then the throughput ratio batched / one-at-a-time at 16 clients (target >= 3x)
and one JSON line (``{"benchmark": "serve_load", ...}``).

Servers are subprocesses in their own process group, waited for on ``/ready`` (``/health`` for
transformers) and always killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
CLINC = ROOT.parent / "shared" / "datasets" / "clinc150" / "holdout_5_per_intent.jsonl"
TARGET_RATIO = 3.0
RATIO_CLIENTS = 16


@dataclass(frozen=True)
class Outcome:
    """One request: its HTTP status (0 when it never got one), latency and completion tokens."""

    status: int
    latency_s: float
    completion_tokens: int = 0


@dataclass(frozen=True)
class LevelResult:
    server: str
    clients: int
    requests: int
    wall_s: float
    requests_per_s: float
    tokens_per_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    ok: int
    rejected_429: int
    errors: int


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(server: str, clients: int, outcomes: Sequence[Outcome], wall_s: float) -> LevelResult:
    """Throughput counts only answered (200) requests; latency percentiles are over them too."""
    statuses = Counter(o.status for o in outcomes)
    answered = [o for o in outcomes if o.status == 200]
    latencies = [o.latency_s for o in answered]
    tokens = sum(o.completion_tokens for o in answered)
    return LevelResult(
        server=server,
        clients=clients,
        requests=len(outcomes),
        wall_s=wall_s,
        requests_per_s=len(answered) / wall_s if wall_s > 0 else 0.0,
        tokens_per_s=tokens / wall_s if wall_s > 0 else 0.0,
        p50_s=percentile(latencies, 50),
        p95_s=percentile(latencies, 95),
        p99_s=percentile(latencies, 99),
        ok=statuses[200],
        rejected_429=statuses[429],
        errors=len(outcomes) - statuses[200] - statuses[429],
    )


async def one_request(
    client: httpx.AsyncClient, model: str, messages: list[dict[str, str]], max_tokens: int
) -> Outcome:
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
    started = time.perf_counter()
    try:
        response = await client.post("/v1/chat/completions", json=body)
    except httpx.HTTPError:
        return Outcome(0, time.perf_counter() - started)
    latency = time.perf_counter() - started
    tokens = 0
    if response.status_code == 200:
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            tokens = int(response.json()["usage"]["completion_tokens"])
    return Outcome(response.status_code, latency, tokens)


async def run_level(
    base_url: str,
    model: str,
    prompts: Sequence[list[dict[str, str]]],
    *,
    clients: int,
    requests: int,
    max_tokens: int,
    api_key: str | None = None,
    timeout_s: float = 600.0,
) -> tuple[list[Outcome], float]:
    """``clients`` closed-loop clients share ``requests`` requests (prompts in turn); returns every
    outcome and the wall time from the first request to the last answer."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    outcomes: list[Outcome] = []
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=timeout_s, limits=limits
    ) as http:

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                outcomes.append(await one_request(http, model, prompts[index % len(prompts)], max_tokens))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return outcomes, time.perf_counter() - started


def format_table(results: Sequence[LevelResult]) -> str:
    header = f"{'server':<26}{'clients':>8}{'req/s':>9}{'tok/s':>9}{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}{'200':>6}{'429':>6}{'err':>6}"
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.server:<26}{r.clients:>8}{r.requests_per_s:>9.2f}{r.tokens_per_s:>9.1f}{r.p50_s:>8.2f}"
            f"{r.p95_s:>8.2f}{r.p99_s:>8.2f}{r.ok:>6}{r.rejected_429:>6}{r.errors:>6}"
        )
    return "\n".join(lines)


def throughput_ratio(
    results: Sequence[LevelResult], numerator: str, denominator: str, clients: int
) -> float | None:
    """Requests/s of ``numerator`` over ``denominator`` at ``clients`` clients; None when either is missing."""
    rate = {(r.server, r.clients): r.requests_per_s for r in results}
    top, bottom = rate.get((numerator, clients)), rate.get((denominator, clients))
    if top is None or not bottom:
        return None
    return top / bottom


def report_line(results: Sequence[LevelResult], notes: dict[str, Any]) -> str:
    ratio = throughput_ratio(results, "tuneloop-batched", "tuneloop-one-at-a-time", RATIO_CLIENTS)
    document = {
        "benchmark": "serve_load",
        f"ratio_batched_vs_one_at_a_time_{RATIO_CLIENTS}": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": None if ratio is None else ratio >= TARGET_RATIO,
        "results": [asdict(r) for r in results],
        **notes,
    }
    return json.dumps(_finite(document), allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    """NaN (a percentile of no answers) becomes null, so the line is strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def load_prompts(path: Path = CLINC, limit: int = 200) -> list[list[dict[str, str]]]:
    """CLINC150 holdout conversations without their answers (system prompt + user request)."""
    prompts = []
    for line in path.read_text(encoding="utf-8").splitlines()[:limit]:
        messages = json.loads(line)["messages"]
        prompts.append(
            [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "assistant"]
        )
    return prompts


# servers -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(
    command: Sequence[str], base_url: str, ready_path: str, *, cwd: Path | None = None,
    env: dict[str, str] | None = None, log: Path | None = None, start_timeout_s: float = 600.0,
) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """Start ``command`` in its own process group, wait until ``ready_path`` answers 200, and kill
    the whole group afterwards whatever happens."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode} before it was ready")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base_url + ready_path, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{command[0]} was not ready after {start_timeout_s:.0f}s")
            time.sleep(0.5)
        yield process
    finally:
        stop_process_group(process)
        if log:
            out.close()  # type: ignore[union-attr]


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """SIGTERM the process group (servers drain), then SIGKILL what is left."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=grace_s)


SERVE_BLOCK = re.compile(r"(?m)^serve:\n(?:[ #].*\n|\n)*")


def write_serve_config(project: Path, port: int, max_batch_size: int | None) -> None:
    """Replace the project's ``serve:`` section: the port, and the batch size when not the default."""
    config = project / "tuneloop.yaml"
    block = f"serve:\n  host: 127.0.0.1\n  port: {port}\n"
    if max_batch_size is not None:
        block += f"  max_batch_size: {max_batch_size}\n"
    block += "\n"
    text = config.read_text(encoding="utf-8")
    text = SERVE_BLOCK.sub(block, text) if SERVE_BLOCK.search(text) else text + "\n" + block
    config.write_text(text, encoding="utf-8")


def make_project(root: Path, base_dir: Path) -> Path:
    """A temporary project whose ``bench@production`` is the bundled model's weights."""
    from tuneloop.config import starter_config_text
    from tuneloop.project import Project
    from tuneloop.registry import register_model_version, set_alias

    root.mkdir(parents=True)
    (root / "tuneloop.yaml").write_text(starter_config_text("bench"), encoding="utf-8")
    project = Project.open(root)
    manifest = json.loads((base_dir / "tuneloop-model.json").read_text(encoding="utf-8"))
    info = register_model_version(
        project, name="bench", kind="full", artifact_dir=base_dir,
        base_reference="base:smollm2-135m-instruct", base_weights_sha256=str(manifest.get("weights_sha256", "")),
    )  # fmt: skip
    set_alias(project, info.reference, "production", reason="serve_load benchmark")
    return root


# the run -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    clients: tuple[int, ...]
    requests_per_client: int
    min_requests: int
    max_tokens: int
    prompts: list[list[dict[str, str]]]

    def requests(self, clients: int) -> int:
        return max(clients * self.requests_per_client, self.min_requests)


def measure(server: str, base_url: str, model: str, settings: Settings) -> list[LevelResult]:
    """Warm the server up with one request, then every client count in turn."""
    asyncio.run(
        run_level(base_url, model, settings.prompts, clients=1, requests=1, max_tokens=settings.max_tokens)
    )
    results = []
    for clients in settings.clients:
        outcomes, wall = asyncio.run(
            run_level(base_url, model, settings.prompts, clients=clients, requests=settings.requests(clients),
                      max_tokens=settings.max_tokens)
        )  # fmt: skip
        results.append(summarize(server, clients, outcomes, wall))
        print(format_table(results[-1:]).splitlines()[-1], flush=True)
    return results


def child_env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT / "src"))
    env.pop("TUNELOOP_DB_URL", None)  # the temporary project's own SQLite store
    return env


def measure_tuneloop(project: Path, settings: Settings, workdir: Path) -> list[LevelResult]:
    results = []
    for server, batch in (("tuneloop-batched", None), ("tuneloop-one-at-a-time", 1)):
        port = free_port()
        write_serve_config(project, port, batch)
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "tuneloop", "serve", "--insecure-no-auth"]
        with running_server(
            command, url, "/ready", cwd=project, env=child_env(), log=workdir / f"{server}.log"
        ):
            results += measure(server, url, "bench@production", settings)
    return results


def measure_transformers(
    model_dir: Path, settings: Settings, workdir: Path, continuous: bool
) -> list[LevelResult]:
    server = "transformers-serve-cb" if continuous else "transformers-serve"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    executable = shutil.which("transformers", path=str(Path(sys.executable).parent)) or "transformers"
    command = [
        executable,
        "serve",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
    ]
    if continuous:
        command.append("--continuous-batching")
    with running_server(command, url, "/health", env=child_env(), log=workdir / f"{server}.log"):
        return measure(server, url, str(model_dir), settings)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--min-requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--skip-tuneloop", action="store_true", help="Only the transformers serve baseline.")
    parser.add_argument("--skip-transformers", action="store_true", help="No transformers serve baseline.")
    parser.add_argument("--tf-continuous-batching", action="store_true",
                        help="Also run transformers serve with --continuous-batching.")  # fmt: skip
    parser.add_argument("--workdir", type=Path, help="Keep the temporary project and server logs here.")
    parser.add_argument("--quick", action="store_true", help="A smoke test: 1 and 4 clients, 4 tokens.")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.requests_per_client, args.min_requests, args.max_tokens = [1, 4], 1, 4, 4
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from tuneloop.models import resolve_model

    settings = Settings(
        tuple(args.clients), args.requests_per_client, args.min_requests, args.max_tokens, load_prompts()
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="serve-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    model_dir = resolve_model("base:smollm2-135m-instruct").base_path
    results: list[LevelResult] = []
    notes: dict[str, Any] = {
        "clients": list(settings.clients),
        "max_tokens": settings.max_tokens,
        "cpus": os.cpu_count(),
    }
    try:
        print(format_table([]).splitlines()[0], flush=True)
        if not args.skip_tuneloop:
            results += measure_tuneloop(make_project(workdir / "project", model_dir), settings, workdir)
        variants = [] if args.skip_transformers else [False, *([True] if args.tf_continuous_batching else [])]
        for continuous in variants:
            try:
                results += measure_transformers(model_dir, settings, workdir, continuous)
            except (RuntimeError, TimeoutError) as exc:  # the baseline is optional: say why it is missing
                notes[f"transformers_serve{'_cb' if continuous else ''}_error"] = str(exc)
                print(
                    f"transformers serve{' --continuous-batching' if continuous else ''}: {exc}", flush=True
                )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(format_table(results))
    ratio = throughput_ratio(results, "tuneloop-batched", "tuneloop-one-at-a-time", RATIO_CLIENTS)
    if ratio is not None:
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        print(
            f"\nbatched / one-at-a-time at {RATIO_CLIENTS} clients: {ratio:.2f}x ({verdict} the {TARGET_RATIO:g}x target)"
        )
    print(report_line(results, notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
