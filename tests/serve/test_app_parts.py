"""The parts behind the HTTP layer, without a server: keys, routing (aliases, refresh, canary, refused
names), the request log writer (batches, flush, close, PII redaction, PostgreSQL), request parsing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apphelpers import register_versions
from sqlalchemy import select

from tuneloop.config.serve import CanaryRule, ServeSection
from tuneloop.errors import InvalidInput, NotFound
from tuneloop.project import Project
from tuneloop.registry import set_alias
from tuneloop.serve import schemas
from tuneloop.serve.errors import ApiError
from tuneloop.serve.keys import authenticate, create_key, list_keys, revoke_key
from tuneloop.serve.request_log import LoggedRequest, RequestLog
from tuneloop.serve.routing import Router, canary_bucket
from tuneloop.store import ApiKeyRecord, RequestLogRecord


@pytest.fixture
def project(project_dir: Path, tmp_path: Path) -> Project:
    project = Project.open()
    register_versions(project, tmp_path / "weights", count=3)
    set_alias(project, "proj:1", "production")
    return project


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_stored_hashed_scoped_and_revocable(project: Project) -> None:
    _, secret = create_key(project, "app", models=["proj"], can_feedback=False)
    assert secret.startswith("tl-") and len(secret) > 40
    with project.store.session() as session:
        row = session.scalars(select(ApiKeyRecord)).one()
        assert secret not in str([row.key_sha256, row.prefix, row.name, row.models])
        assert secret.startswith(row.prefix)
    found = authenticate(project, secret)
    assert found is not None and found.name == "app" and not found.can_feedback
    assert found.may_call("proj@production") and found.may_call("proj:2") and found.may_call("proj")
    assert not found.may_call("other@production") and not found.may_call("base:smollm2-135m-instruct")
    assert authenticate(project, secret + "x") is None
    assert revoke_key(project, "app").revoked
    assert authenticate(project, secret) is None
    assert [k.revoked for k in list_keys(project)] == [True]
    with pytest.raises(InvalidInput):
        create_key(project, "app")
    with pytest.raises(InvalidInput):
        create_key(project, "paths", models=["../weights"])
    with pytest.raises(NotFound):
        revoke_key(project, "nobody")


def test_routes_versions_aliases_and_bare_names(project: Project) -> None:
    router = Router(project, ServeSection())
    target = router.resolve("proj@production", "k")
    assert (target.reference, target.version, target.alias, target.requested) == (
        "proj:1",
        1,
        "production",
        "proj@production",
    )
    assert target.version_id is not None and target.merged_weights and target.identity
    assert router.resolve("proj").reference == "proj:1"
    assert router.resolve("proj:3").alias is None
    for missing in ("proj:9", "proj@staging", "nothing", "base:smollm2-135m-instruct"):
        with pytest.raises(NotFound):
            router.resolve(missing)
    for path_like in ("../proj", "/tmp", "proj/..", "~", ".", "base:../../x", "org/name"):
        with pytest.raises(InvalidInput):
            router.resolve(path_like)


def test_alias_moves_reach_the_router_after_the_refresh_interval(project: Project) -> None:
    clock = FakeClock()
    router = Router(project, ServeSection(alias_refresh_s=5), clock=clock)
    assert router.resolve("proj@production").reference == "proj:1"
    set_alias(project, "proj:2", "production")
    clock.now = 4.9
    assert router.resolve("proj@production").reference == "proj:1"
    clock.now = 5.0
    assert router.resolve("proj@production").reference == "proj:2"


def test_canary_sends_a_sticky_share_of_keys_to_the_canary_alias(project: Project) -> None:
    section = ServeSection(canary=[CanaryRule(name="proj", share=0.3)])
    router = Router(project, section)
    keys = [f"key-{i}" for i in range(400)]
    assert {router.resolve("proj@production", k).reference for k in keys} == {"proj:1"}  # no canary alias yet
    set_alias(project, "proj:2", "canary")
    router = Router(project, section)
    sides = {k: router.resolve("proj@production", k) for k in keys}
    on_canary = [k for k, t in sides.items() if t.reference == "proj:2"]
    assert 0.2 < len(on_canary) / len(keys) < 0.4
    assert all(sides[k].alias == "canary" for k in on_canary)
    assert all(router.resolve("proj@production", k).reference == "proj:2" for k in on_canary)  # sticky
    assert all(canary_bucket(k, "proj@production") < 0.3 for k in on_canary)
    assert {router.resolve("proj:1", k).reference for k in on_canary} == {
        "proj:1"
    }  # exact versions untouched


def test_servable_models(project: Project) -> None:
    names = Router(project, ServeSection()).servable_models()
    assert names == ["proj", "proj@production", "proj:1", "proj:2", "proj:3"]


def entry(index: int, **fields: object) -> LoggedRequest:
    values: dict = {
        "id": f"chatcmpl-{index}",
        "endpoint": "chat.completions",
        "model_requested": "proj",
        "model_name": "proj",
        "model_reference": "proj:1",
        "status_code": 200,
        "latency_ms": 1.0,
        **fields,
    }
    return LoggedRequest(**values)


def test_request_log_writes_everything_submitted_in_batches(project: Project) -> None:
    log = RequestLog(project, batch_size=7)
    assert all(log.submit(entry(i)) for i in range(50))
    assert log.flush()
    assert log.written == 50
    assert all(log.submit(entry(i)) for i in range(50, 60))
    log.close()
    assert not log.submit(entry(99))
    with project.store.session() as session:
        assert len(session.scalars(select(RequestLogRecord.id)).all()) == 60


def test_request_log_survives_a_bad_row_and_drops_when_full(project: Project) -> None:
    log = RequestLog(project)
    log.submit(entry(1))
    log.submit(entry(1))  # the same id twice: the batch fails, the first row is kept
    log.submit(entry(2))
    log.close()
    assert (log.written, log.failed) == (2, 1)
    off = RequestLog(project, enabled=False)
    assert not off.submit(entry(3))
    off.close()


def test_request_log_redacts_pii_when_told(project: Project) -> None:
    log = RequestLog(project, redact=project.config.data.sensitive)
    message = {"messages": [{"role": "user", "content": "mail me at jane.doe@example.com"}]}
    log.submit(entry(1, request=message, response={"choices": [{"text": "call +1 415 555 0100 now"}]}))
    log.close()
    with project.store.session() as session:
        row = session.scalars(select(RequestLogRecord)).one()
    assert "jane.doe@example.com" not in str(row.request)
    assert "[EMAIL]" in str(row.request)


@pytest.fixture
def pg_project(
    project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_schema_url: str
) -> Iterator[Project]:
    monkeypatch.setenv("TUNELOOP_DB_URL", pg_schema_url)
    project = Project.open()
    register_versions(project, tmp_path / "weights", count=1)
    try:
        yield project
    finally:
        project.store.dispose()


@pytest.mark.postgres
def test_request_log_on_postgresql(pg_project: Project) -> None:
    version_id = Router(pg_project, ServeSection()).resolve("proj:1").version_id
    log = RequestLog(pg_project, batch_size=16)
    for i in range(40):
        log.submit(
            entry(
                i, model_version_id=version_id, request={"messages": [{"role": "user", "content": f"q{i}"}]}
            )
        )
    log.close()
    assert (log.written, log.failed) == (40, 0)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, 422, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": 3}, 422, "stop"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 0}, 422, "top_p"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "function_call": "auto"},
            400,
            "function_call",
        ),
        ([1, 2], 422, None),
    ],
)
def test_request_parsing_names_the_parameter(body: object, status: int, param: str | None) -> None:
    with pytest.raises(ApiError) as refused:
        schemas.parse_request(schemas.ChatCompletionRequest, body)
    assert (refused.value.status, refused.value.param) == (status, param)


def test_completion_prompt_must_be_one_string() -> None:
    one = schemas.parse_request(schemas.CompletionRequest, {"model": "m", "prompt": ["only"]})
    assert one.prompt_text() == "only"
    two = schemas.parse_request(schemas.CompletionRequest, {"model": "m", "prompt": ["a", "b"]})
    with pytest.raises(ApiError):
        two.prompt_text()
    with pytest.raises(ApiError) as tokens:
        schemas.parse_request(schemas.CompletionRequest, {"model": "m", "prompt": [1, 2]})
    assert tokens.value.param == "prompt"


def test_pulled_base_models_are_listed_and_routed(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneloop.models import ResolvedModel
    from tuneloop.store import BaseModelRecord

    with project.store.session() as session:
        session.add(
            BaseModelRecord(
                catalog_id="tiny-base",
                reference="base:tiny-base",
                local_path=str(tmp_path),
                weights_sha256="a" * 64,
                source="local-dir",
            )
        )
    resolved: list[str] = []

    def fake_resolve(reference: str, project: Project) -> ResolvedModel:
        resolved.append(reference)
        return ResolvedModel(reference=reference, base_path=tmp_path, base_weights_sha256="a" * 64)

    monkeypatch.setattr("tuneloop.serve.routing.resolve_model", fake_resolve)
    router = Router(project, ServeSection())
    assert router.servable_models()[-1] == "base:tiny-base"
    target = router.resolve("base:tiny-base")
    assert (target.reference, target.name, target.version, target.adapter_path) == (
        "base:tiny-base",
        "base:tiny-base",
        None,
        None,
    )
    router.resolve("base:tiny-base")
    assert resolved == ["base:tiny-base"]  # resolved once: a pulled base does not change
