"""Every failure is an OpenAI error object with the right status: bad input, auth, unknown models,
path-like model names, oversized bodies, timeouts (which cancel generation), disconnects, not ready."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from apphelpers import HOLD, ScriptedBackend, Served, register_versions, serving, wait_until

from tuneloop.project import Project
from tuneloop.registry import set_alias
from tuneloop.serve.keys import create_key

CHAT = "/v1/chat/completions"


@pytest.fixture
def project(project_dir: Path, tmp_path: Path) -> Project:
    project = Project.open()
    register_versions(project, tmp_path / "weights", count=1)
    set_alias(project, "proj:1", "production")
    return project


@pytest.fixture
def secret(project: Project) -> str:
    return create_key(project, "tester")[1]


@pytest.fixture
def served(project: Project) -> Iterator[Served]:
    with serving(
        project, ScriptedBackend(), max_body_bytes=2048, max_tokens_limit=64, request_timeout_s=0.5
    ) as s:
        yield s


def chat_body(model: str = "proj", **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    return error


@pytest.mark.parametrize(
    ("extra", "status", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "tools"),
        ({"response_format": {"type": "json_object"}}, 400, "response_format"),
        ({"logprobs": True}, 400, "logprobs"),
        ({"frobnicate": 1}, 400, "frobnicate"),
        ({"max_tokens": 65}, 400, "max_tokens"),
        ({"temperature": "hot"}, 422, "temperature"),
        ({"n": 0}, 422, "n"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]}, 422, None),
        ({"messages": [{"role": "user"}]}, 422, "messages[0].content"),
        ({"messages": []}, 422, "messages"),
    ],
)
def test_invalid_requests_get_error_objects_naming_the_parameter(
    served: Served, secret: str, extra: dict[str, object], status: int, param: str | None
) -> None:
    assert_error(served.post(CHAT, secret, json=chat_body(**extra)), status, param)


def test_neutral_values_of_unsupported_parameters_are_accepted(served: Served, secret: str) -> None:
    body = chat_body(logprobs=False, presence_penalty=0, tools=[], user="u1", metadata={"a": "b"})
    assert served.post(CHAT, secret, json=body).status_code == 200


def test_bad_json_missing_model_and_oversized_bodies(served: Served, secret: str) -> None:
    assert_error(served.post(CHAT, secret, content=b"{not json"), 400)
    assert_error(
        served.post(CHAT, secret, json={"messages": [{"role": "user", "content": "hi"}]}), 422, "model"
    )
    huge = chat_body(messages=[{"role": "user", "content": "x" * 5000}])
    assert assert_error(served.post(CHAT, secret, json=huge), 413)["code"] == "body_too_large"
    # A body that does not announce its length is counted as it is read.
    chunks = iter([b'{"model": "proj", "messages": [{"role": "user", "content": "', b"y" * 4000, b'"}]}'])
    assert_error(served.post(CHAT, secret, content=chunks), 413)


def test_auth_is_required_everywhere_but_health(served: Served) -> None:
    for path in ("/v1/models", "/ready", "/metrics"):
        assert_error(served.get(path), 401)
    assert_error(served.post(CHAT, None, json=chat_body()), 401)
    assert_error(served.post(CHAT, "tl-wrong", json=chat_body()), 401)
    assert served.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "model",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "proj/../x",
        "..",
        ".tuneloop",
        "~root",
        "org/model",
        "a b",
        "base:../x",
    ],
)
def test_path_like_model_names_are_refused(served: Served, secret: str, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        served.client(secret).chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.status_code == 400
    assert refused.value.body["param"] == "model"


def test_unknown_models_aliases_and_unpulled_bases_are_404(served: Served, secret: str) -> None:
    for model in ("proj:9", "proj@staging", "other", "base:smollm2-135m-instruct"):
        error = assert_error(served.post(CHAT, secret, json=chat_body(model)), 404, "model")
        assert error["code"] == "model_not_found"
    assert_error(served.get("/v1/nothing-here", secret), 404)


def test_timeout_answers_504_and_cancels_the_generation(served: Served, secret: str) -> None:
    error = assert_error(
        served.post(CHAT, secret, json=chat_body(messages=[{"role": "user", "content": HOLD}])), 504
    )
    assert error["code"] == "timeout"
    wait_until(lambda: served.backend.cancelled == 1 and served.backend.in_flight == 0)
    streamed = served.post(
        CHAT, secret, json=chat_body(messages=[{"role": "user", "content": HOLD}], stream=True)
    )
    assert_error(streamed, 504)
    wait_until(lambda: served.backend.cancelled == 2 and served.backend.in_flight == 0)
    assert {row.status_code for row in served.logged()} == {504}


def test_client_disconnect_cancels_the_generation(served: Served, secret: str) -> None:
    served.state.section = served.state.section.model_copy(update={"request_timeout_s": 60.0})
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{served.url}{CHAT}",
            headers={"Authorization": f"Bearer {secret}"},
            json=chat_body(messages=[{"role": "user", "content": HOLD}]),
            timeout=0.3,
        )
    wait_until(lambda: served.backend.cancelled == 1 and served.backend.in_flight == 0)
    served.backend.piece_delay_s = 0.2
    body = chat_body(messages=[{"role": "user", "content": "a long answer " * 20}], stream=True)
    with httpx.stream(
        "POST", f"{served.url}{CHAT}", headers={"Authorization": f"Bearer {secret}"}, json=body
    ) as response:
        assert response.status_code == 200
        next(response.iter_lines())  # the first piece arrived; walk away mid-stream
    wait_until(lambda: served.backend.cancelled == 2 and served.backend.in_flight == 0)
    wait_until(lambda: [row.status_code for row in served.logged()] == [499, 499])


class FailingBackend(ScriptedBackend):
    async def generate(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        raise RuntimeError("boom: a secret detail")


def test_an_unexpected_failure_is_a_500_error_object_without_details(project: Project, secret: str) -> None:
    with serving(project, FailingBackend()) as served:
        error = assert_error(served.post(CHAT, secret, json=chat_body()), 500)
        assert "boom" not in str(error)
        assert served.get("/health").status_code == 200
        assert [row.status_code for row in served.logged()] == [500]


def test_ready_is_503_until_the_backend_has_started(project: Project, secret: str) -> None:
    from apphelpers import running_server

    from tuneloop.serve.app import create_app

    backend = ScriptedBackend(start_delay_s=2.0)
    app = create_app(project, project.config.serve, backend)
    with running_server(app) as url:
        early = httpx.get(f"{url}/ready", headers={"Authorization": f"Bearer {secret}"})
        assert_error(early, 503)
        assert httpx.get(f"{url}/health").status_code == 200
        assert_error(
            httpx.post(f"{url}{CHAT}", headers={"Authorization": f"Bearer {secret}"}, json=chat_body()), 503
        )
        wait_until(lambda: backend.ready)
        ready = httpx.get(f"{url}/ready", headers={"Authorization": f"Bearer {secret}"})
        assert ready.json()["model"] == "proj@production"
    assert backend.stopped


def test_insecure_no_auth_serves_without_keys(project: Project) -> None:
    with serving(project, ScriptedBackend(), insecure_no_auth=True) as served:
        assert served.post(CHAT, None, json=chat_body()).json()["model"] == "proj:1"
        assert [row.api_key_name for row in served.logged()] == [None]


def test_backend_errors_keep_their_status(project: Project, secret: str) -> None:
    from tuneloop.serve.backend import BackendError

    class Unloadable(ScriptedBackend):
        async def generate(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            await asyncio.sleep(0)
            raise BackendError("the adapter does not fit the base", status=422, code="adapter_mismatch")

    with serving(project, Unloadable()) as served:
        error = assert_error(served.post(CHAT, secret, json=chat_body()), 422)
        assert error["code"] == "adapter_mismatch"


def test_a_backend_that_cannot_start_keeps_the_server_alive_and_not_ready(
    project: Project, secret: str
) -> None:
    from apphelpers import running_server

    from tuneloop.serve.app import create_app

    class Broken(ScriptedBackend):
        async def start(self) -> None:
            raise OSError("weights missing")

    app = create_app(project, project.config.serve, Broken())
    with running_server(app) as url:
        headers = {"Authorization": f"Bearer {secret}"}
        wait_until(lambda: app.state.serve.start_error is not None)
        assert "weights missing" in str(
            assert_error(httpx.get(f"{url}/ready", headers=headers), 503)["message"]
        )
        assert_error(httpx.post(f"{url}{CHAT}", headers=headers, json=chat_body()), 503)
        assert httpx.get(f"{url}/health").status_code == 200
