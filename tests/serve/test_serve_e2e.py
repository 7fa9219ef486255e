"""The whole serving path with real generation: the local engine behind the HTTP app, the openai SDK as
the client, promotion and rollback through the registry changing which version answers without a
restart, and a router (`--upstream`) in front of a second server."""

from __future__ import annotations

from typing import Any

import openai
from apphelpers import running_server, serving, wait_until

from tuneloop.deploy import promote, rollback
from tuneloop.serve.backends import make_backend
from tuneloop.serve.keys import create_key
from tuneloop.serve.upstream import UpstreamBackend

ASK = [{"role": "user", "content": "Where is my parcel?"}]


def _client(url: str, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0, timeout=60)


def _ask(client: openai.OpenAI, model: str = "proj@production") -> Any:
    return client.chat.completions.create(model=model, messages=ASK, max_tokens=6, temperature=0)


def test_promote_and_rollback_change_the_answering_version_without_restart(engine_models) -> None:
    project = engine_models.project
    promote(project, "proj:1", "production", force=True, reason="first release", actor="test")
    secret = create_key(project, "e2e")[1]
    section = project.config.serve.model_copy(update={"alias_refresh_s": 0.0})
    with serving(project, make_backend(project, section), alias_refresh_s=0.0) as served:
        client = _client(served.url, secret)
        first = _ask(client)
        assert first.model == "proj:1" and first.usage.completion_tokens > 0
        streamed = client.chat.completions.create(model="proj@production", messages=ASK, max_tokens=6,
                                                  temperature=0, stream=True)  # fmt: skip
        pieces = [chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices]
        assert "".join(pieces) == first.choices[0].message.content
        promote(project, "proj:2", "production", force=True, reason="second release", actor="test")
        second = _ask(client)
        assert second.model == "proj:2"
        assert _ask(client, "proj:1").choices[0].message.content == first.choices[0].message.content
        rollback(project, "proj", "production", reason="second release misbehaves", actor="test")
        assert _ask(client).model == "proj:1"
        logged = [row.model_reference for row in served.logged() if row.endpoint == "chat.completions"]
        assert logged == ["proj:1", "proj:1", "proj:2", "proj:1", "proj:1"]


def test_a_router_fronts_an_upstream_server(engine_models) -> None:
    project = engine_models.project
    promote(project, "proj:1", "production", force=True, reason="release", actor="test")
    secret = create_key(project, "router")[1]
    section = project.config.serve.model_copy(update={"alias_refresh_s": 0.0})
    with serving(project, make_backend(project, section), insecure_no_auth=True) as upstream:
        router_backend = UpstreamBackend(upstream.url, naming="reference", timeout_s=60, max_in_flight=8)
        from tuneloop.serve.app import create_app

        app = create_app(project, section, router_backend)
        with running_server(app) as url:
            wait_until(lambda: router_backend.ready)
            client = _client(url, secret)
            answer = _ask(client)
            direct = _ask(_client(upstream.url, "unused"))
            assert answer.model == "proj:1"
            assert answer.choices[0].message.content == direct.choices[0].message.content
            streamed = client.chat.completions.create(model="proj@production", messages=ASK, max_tokens=6,
                                                      temperature=0, stream=True)  # fmt: skip
            assert (
                "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
                == direct.choices[0].message.content
            )
            state = app.state.serve
            assert state.request_log.flush()
            from sqlalchemy import select

            from tuneloop.store import RequestLogRecord

            with project.store.session() as session:
                keys = [row.api_key_name for row in session.scalars(select(RequestLogRecord))]
            assert keys.count("router") == 2  # the router logs its own key; the upstream logs no key
