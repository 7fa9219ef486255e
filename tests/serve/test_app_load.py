"""Overload: 64 concurrent clients against a small queue get only 200 or 429 (with Retry-After), every
accepted request is in the log, and the server is still healthy afterwards. And SIGTERM drains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from apphelpers import ScriptedBackend, free_port, register_versions, serving, wait_until

from tuneloop.project import Project
from tuneloop.registry import set_alias
from tuneloop.serve.keys import create_key

CLIENTS = 64


@pytest.fixture
def project(project_dir: Path, tmp_path: Path) -> Project:
    project = Project.open()
    register_versions(project, tmp_path / "weights", count=1)
    set_alias(project, "proj:1", "production")
    return project


def test_64_clients_over_a_small_queue_get_only_200_and_429(project: Project) -> None:
    _, secret = create_key(project, "load")
    backend = ScriptedBackend(delay_s=1.0, max_queue=8, retry_after_s=1.5)
    barrier = threading.Barrier(CLIENTS)

    def one_client(index: int) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            return client.post(
                f"{served.url}/v1/chat/completions",
                headers={"Authorization": f"Bearer {secret}"},
                json={"model": "proj", "messages": [{"role": "user", "content": f"client {index}"}]},
            )

    with serving(project, backend) as served, ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(pool.map(one_client, range(CLIENTS)))
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 429}, statuses
        assert statuses.count(200) >= 8
        assert statuses.count(429) >= 1
        for refused in (r for r in responses if r.status_code == 429):
            assert refused.headers["Retry-After"] == "2"
            assert refused.json()["error"]["type"] == "rate_limit_error"
        accepted = {r.json()["id"] for r in responses if r.status_code == 200}
        logged = {row.id: row.status_code for row in served.logged()}
        assert all(logged[i] == 200 for i in accepted)
        assert sorted(logged.values()).count(429) == statuses.count(429)
        assert served.get("/health").status_code == 200
        assert served.get("/ready", secret).status_code == 200
        after = served.post(
            "/v1/chat/completions",
            secret,
            json={"model": "proj", "messages": [{"role": "user", "content": "ok?"}]},
        )
        assert after.status_code == 200
        assert backend.in_flight == 0


_SERVE_SCRIPT = """
import logging
import sys
logging.basicConfig(level=logging.INFO)
from apphelpers import ScriptedBackend
from tuneloop.project import Project
from tuneloop.serve.server import serve
summary = serve(Project.open(), port=int(sys.argv[1]), backend=ScriptedBackend(delay_s=1.5), insecure_no_auth=True)
print("logged", summary.requests_logged, flush=True)
"""


def test_sigterm_drains_in_flight_requests_and_exits_0(project: Project, project_dir: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path]),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE_SCRIPT, str(port)],
        cwd=project_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url) or process.poll() is not None, timeout_s=60)
        assert process.poll() is None, process.communicate()
        answers: list[httpx.Response] = []
        body = {"model": "proj", "messages": [{"role": "user", "content": "drain me"}]}
        client = threading.Thread(
            target=lambda: answers.append(httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30))
        )
        client.start()
        time.sleep(0.5)  # the request is generating (it takes 1.5 s)
        process.send_signal(signal.SIGTERM)
        client.join(timeout=30)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()["model"] == "proj:1"
    assert "logged 1" in stdout
    assert "model=proj:1 status=200" in stderr
    from sqlalchemy import select

    from tuneloop.store import RequestLogRecord

    with project.store.session() as session:
        assert session.scalars(select(RequestLogRecord.id)).all() == [answers[0].json()["id"]]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
