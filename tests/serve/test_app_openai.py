"""The official openai SDK against a running server: chat, streaming, completions, models, sampling
options, usage, the exact version in every answer, alias moves without restart, keys and feedback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from apphelpers import HOLD, ScriptedBackend, Served, register_versions, serving, wait_until

from tuneloop.project import Project
from tuneloop.registry import set_alias
from tuneloop.serve.keys import create_key, revoke_key


@pytest.fixture
def project(project_dir: Path, tmp_path: Path) -> Project:
    project = Project.open()
    register_versions(project, tmp_path / "weights")
    set_alias(project, "proj:1", "production")
    return project


@pytest.fixture
def served(project: Project) -> Iterator[Served]:
    with serving(project, ScriptedBackend()) as served:
        yield served


@pytest.fixture
def secret(project: Project) -> str:
    return create_key(project, "tester")[1]


def ask(client: Any, content: str, model: str = "proj@production", **options: Any) -> Any:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], **options
    )


def test_chat_names_the_exact_version_and_counts_usage(served: Served, secret: str) -> None:
    raw = served.client(secret).chat.completions.with_raw_response.create(
        model="proj@production", messages=[{"role": "user", "content": "where is my parcel"}]
    )
    reply = raw.parse()
    assert raw.headers["X-Tuneloop-Model-Version"] == "proj:1"
    assert reply.model == "proj:1"
    assert reply.id.startswith("chatcmpl-")
    assert reply.system_fingerprint.startswith("tl-")
    assert reply.choices[0].message.content == "proj:1 answer 0: where is my parcel"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens == 4
    assert reply.usage.completion_tokens == 7
    assert reply.usage.total_tokens == 11


def test_streaming_matches_the_whole_answer_and_reports_usage_last(served: Served, secret: str) -> None:
    client = served.client(secret)
    whole = ask(client, "reset my password").choices[0].message.content
    chunks = list(ask(client, "reset my password", stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert {c.model for c in chunks} == {"proj:1"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len(whole.split())
    assert chunks[-1].usage.prompt_tokens == 3


def test_completions_bare_project_name_versions_and_text_parts(served: Served, secret: str) -> None:
    client = served.client(secret)
    completion = client.completions.create(model="proj", prompt="once upon", max_tokens=5)
    assert completion.id.startswith("cmpl-")
    assert completion.model == "proj:1"
    assert completion.choices[0].text == "proj:1 answer 0: once upon"
    streamed = client.completions.create(model="proj:2", prompt="once upon", stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "proj:2 answer 0: once upon"
    parts = client.chat.completions.create(
        model="proj:2", messages=[{"role": "user", "content": [{"type": "text", "text": "in parts"}]}]
    )
    assert parts.choices[0].message.content == "proj:2 answer 0: in parts"


def test_n_stop_and_max_tokens(served: Served, secret: str) -> None:
    client = served.client(secret)
    two = ask(client, "hello there", n=2)
    assert [c.message.content for c in two.choices] == [
        "proj:1 answer 0: hello there",
        "proj:1 answer 1: hello there",
    ]
    assert two.usage.completion_tokens == 10
    stopped = ask(client, "hello there", stop=["there"])
    assert stopped.choices[0].message.content == "proj:1 answer 0: hello "
    short = ask(client, "one two three four", max_tokens=3)
    assert short.choices[0].message.content == "proj:1 answer 0:"
    assert short.choices[0].finish_reason == "length"
    assert short.usage.completion_tokens == 3
    newer = ask(client, "one two", max_completion_tokens=2)
    assert newer.choices[0].finish_reason == "length"


def test_model_list_names_aliases_versions_and_the_project(served: Served, secret: str) -> None:
    ids = {m.id for m in served.client(secret).models.list()}
    assert {"proj", "proj@production", "proj:1", "proj:2"} <= ids


def test_alias_move_reaches_new_requests_while_in_flight_ones_finish_on_their_version(
    served: Served, project: Project, secret: str
) -> None:
    client = served.client(secret)
    answers: dict[str, Any] = {}
    first = threading.Thread(target=lambda: answers.update(held=ask(client, f"{HOLD} first")))
    first.start()
    try:
        wait_until(lambda: served.backend.in_flight == 1)
        set_alias(project, "proj:2", "production", action="promote")
        assert ask(client, "second").model == "proj:2"
        set_alias(project, "proj:1", "production", action="rollback")
        assert ask(client, "third").model == "proj:1"
    finally:
        served.backend.release()
        first.join(timeout=30)
    assert answers["held"].model == "proj:1"
    by_id = {row.id: row for row in served.logged()}
    assert by_id[answers["held"].id].model_reference == "proj:1"
    assert by_id[answers["held"].id].alias == "production"


def test_revoked_and_scoped_keys_are_refused(served: Served, project: Project) -> None:
    _, revoked = create_key(project, "leaver")
    assert ask(served.client(revoked), "hi").model == "proj:1"
    revoke_key(project, "leaver")
    with pytest.raises(openai.AuthenticationError):
        ask(served.client(revoked), "hi")
    with pytest.raises(openai.AuthenticationError):
        ask(served.client("tl-not-a-key"), "hi")
    _, scoped = create_key(project, "base-only", models=["base:smollm2-135m-instruct"])
    with pytest.raises(openai.PermissionDeniedError) as refused:
        ask(served.client(scoped), "hi")
    assert refused.value.body["param"] == "model"
    assert {m.id for m in served.client(scoped).models.list()} == set()
    _, narrow = create_key(project, "proj-only", models=["proj"])
    assert ask(served.client(narrow), "hi", model="proj:2").model == "proj:2"
    _, alias_only = create_key(project, "production-only", models=["proj@production"])
    assert ask(served.client(alias_only), "hi", model="proj").model == "proj:1"
    with pytest.raises(openai.PermissionDeniedError):
        ask(served.client(alias_only), "hi", model="proj:2")


def test_feedback_attaches_to_a_logged_response(served: Served, project: Project, secret: str) -> None:
    from sqlalchemy import select

    from tuneloop.store import FeedbackRecord

    reply = ask(served.client(secret), "my card was charged twice")
    sent = served.post(
        "/v1/feedback", secret, json={"id": reply.id, "rating": 1, "corrected_answer": "refund"}
    )
    assert sent.status_code == 200, sent.text
    with project.store.session() as session:
        stored = session.scalars(select(FeedbackRecord)).one()
        assert (stored.request_id, stored.rating, stored.corrected_answer) == (reply.id, 1.0, "refund")
        assert stored.api_key_name == "tester"
    unknown = served.post("/v1/feedback", secret, json={"id": "chatcmpl-nope", "rating": 0})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["param"] == "id"
    _, mute = create_key(project, "mute", can_feedback=False)
    assert served.post("/v1/feedback", mute, json={"id": reply.id, "rating": 1}).status_code == 403
    empty = served.post("/v1/feedback", secret, json={"id": reply.id})
    assert empty.status_code == 422


def test_every_answered_request_is_in_the_log_with_its_version_and_key(served: Served, secret: str) -> None:
    client = served.client(secret)
    ids = {ask(client, f"question {i}", model=f"proj:{1 + i % 2}").id for i in range(6)}
    ids |= {[chunk.id for chunk in ask(client, "streamed", stream=True)].pop()}
    # A stream's row is queued after its last chunk is sent, so the client can be a moment ahead.
    wait_until(lambda: ids <= {row.id for row in served.logged()})
    rows = {row.id: row for row in served.logged()}
    assert {rows[i].status_code for i in ids} == {200}
    assert {rows[i].api_key_name for i in ids} == {"tester"}
    assert {rows[i].model_reference for i in ids} == {"proj:1", "proj:2"}
    row = next(
        r for r in rows.values() if r.request.get("messages") == [{"role": "user", "content": "question 0"}]
    )
    assert row.response["choices"][0]["text"] == "proj:1 answer 0: question 0"
    assert row.completion_tokens == 5


def test_metrics_count_requests_by_version(served: Served, secret: str) -> None:
    ask(served.client(secret), "count me")
    text = served.get("/metrics", secret).text
    assert 'tuneloop_requests_total{endpoint="chat.completions",model="proj:1",status="200"} 1.0' in text
    assert "tuneloop_generated_tokens_total" in text
    assert "tuneloop_queue_depth" in text
    assert served.get("/metrics").status_code == 401
