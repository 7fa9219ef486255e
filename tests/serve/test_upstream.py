"""UpstreamBackend against a fake OpenAI-compatible engine on a real port: answers, streams, the
upstream model names, and how the upstream's failures and a client's disconnect are passed on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from upstreamhelpers import FakeState, running_fake_upstream

from tuneloop.serve.backend import BackendError, Prompt, QueueFull, Sampling, StreamResult, Target
from tuneloop.serve.upstream import UpstreamBackend, upstream_model_name

T = TypeVar("T")

GREEDY = Sampling(max_tokens=32, temperature=0.0)


def target(name: str = "support", version: int | None = 3) -> Target:
    reference = f"{name}:{version}" if version is not None else f"base:{name}"
    return Target(
        requested=f"{name}@production" if version is not None else reference,
        reference=reference,
        name=name if version is not None else reference,
        version=version,
        version_id=7 if version is not None else None,
        base_path=Path("/models/base"),
        base_weights_sha256="0" * 64,
        adapter_path=Path("/artifacts/a") if version is not None else None,
        merged_weights=False,
        identity="id",
        alias="production" if version is not None else None,
    )


def chat(text: str) -> Prompt:
    return Prompt(messages=({"role": "user", "content": text},))


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, FakeState]]:
    with running_fake_upstream() as running:
        yield running


def run_with(url: str, body: Callable[[UpstreamBackend], Awaitable[T]], **options: Any) -> T:
    """Start a backend on ``url``, run ``body`` with it, always stop it."""

    async def main() -> T:
        backend = UpstreamBackend(url, **options)
        await backend.start()
        try:
            return await body(backend)
        finally:
            await backend.stop(drain_timeout_s=5)

    return asyncio.run(main())


async def collect(backend: UpstreamBackend, tgt: Target, prompt: Prompt, result: StreamResult) -> list[Any]:
    return [delta async for delta in backend.stream(tgt, prompt, GREEDY, result)]


def test_vllm_names_versions_immutably_and_reference_naming_passes_the_reference() -> None:
    assert upstream_model_name(target("support", 3), "vllm") == "support-v3"
    assert upstream_model_name(target("smollm2-135m-instruct", None), "vllm") == "smollm2-135m-instruct"
    assert upstream_model_name(target("support", 3), "reference") == "support:3"
    assert (
        upstream_model_name(target("smollm2-135m-instruct", None), "reference")
        == "base:smollm2-135m-instruct"
    )


def test_chat_answer_and_usage_come_from_the_upstream(upstream: tuple[str, FakeState]) -> None:
    url, state = upstream
    completion = run_with(url, lambda b: b.generate(target(), chat("hello there"), GREEDY))
    assert [c.text for c in completion.choices] == ["support-v3: hello there"]
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.prompt_tokens, completion.completion_tokens) == (5, 3)
    assert completion.target == target()
    sent = state.requests[-1]
    assert sent["model"] == "support-v3" and sent["messages"] == [{"role": "user", "content": "hello there"}]
    assert sent["temperature"] == 0.0 and sent["max_tokens"] == 32 and "stream" not in sent


def test_text_prompts_go_to_completions_with_the_reference_name(upstream: tuple[str, FakeState]) -> None:
    url, state = upstream
    sampling = Sampling(max_tokens=2, temperature=0.0, stop=("\n",), seed=4, n=2)
    completion = run_with(
        url, lambda b: b.generate(target(), Prompt(text="a b c"), sampling), naming="reference"
    )
    assert [c.text for c in completion.choices] == ["support:3: a", "support:3: a"]
    assert [c.finish_reason for c in completion.choices] == ["length", "length"]
    assert completion.completion_tokens == 4
    sent = state.requests[-1]
    assert sent["prompt"] == "a b c" and sent["stop"] == ["\n"] and sent["seed"] == 4 and sent["n"] == 2


def test_streaming_passes_pieces_through_and_fills_the_result(upstream: tuple[str, FakeState]) -> None:
    url, state = upstream
    result = StreamResult()
    deltas = run_with(url, lambda b: collect(b, target(), chat("one two three"), result))
    assert "".join(d.text for d in deltas) == "support-v3: one two three"
    assert [d.finish_reason for d in deltas][-1] == "stop"
    assert deltas[-1].completion_tokens == 4
    assert result.prompt_tokens == 5
    assert result.choices[0].text == "support-v3: one two three" and result.choices[0].completion_tokens == 4
    assert result.latency_s > 0
    assert state.requests[-1]["stream"] is True
    assert state.requests[-1]["stream_options"] == {"include_usage": True}


def test_text_streams_read_the_completions_format(upstream: tuple[str, FakeState]) -> None:
    url, _ = upstream
    result = StreamResult()
    deltas = run_with(url, lambda b: collect(b, target("base-model", None), Prompt(text="x y"), result))
    assert "".join(d.text for d in deltas) == "base-model: x y"
    assert result.choices[0].finish_reason == "stop"


def test_upstream_429_is_queue_full_with_its_retry_after(upstream: tuple[str, FakeState]) -> None:
    url, _ = upstream
    with pytest.raises(QueueFull) as raised:
        run_with(url, lambda b: b.generate(target("overloaded", None), chat("hi"), GREEDY))
    assert raised.value.retry_after_s == 7.0
    with pytest.raises(QueueFull):
        run_with(url, lambda b: collect(b, target("overloaded", None), chat("hi"), StreamResult()))


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_5xx_is_a_502_upstream_error(upstream: tuple[str, FakeState], stream: bool) -> None:
    url, _ = upstream

    async def call(backend: UpstreamBackend) -> Any:
        if stream:
            return await collect(backend, target("broken", None), chat("hi"), StreamResult())
        return await backend.generate(target("broken", None), chat("hi"), GREEDY)

    with pytest.raises(BackendError) as raised:
        run_with(url, call)
    assert (raised.value.status, raised.value.code) == (502, "upstream_error")
    assert "503" in str(raised.value) and "engine died" in str(raised.value)


def test_an_upstream_4xx_keeps_its_status_and_message(upstream: tuple[str, FakeState]) -> None:
    url, _ = upstream
    with pytest.raises(BackendError) as raised:
        run_with(url, lambda b: b.generate(target("unknown", None), chat("hi"), GREEDY))
    assert raised.value.status == 404 and "does not exist" in str(raised.value)


def test_a_dead_upstream_fails_clearly() -> None:
    from upstreamhelpers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError) as raised:
        run_with(url, lambda b: b.generate(target(), chat("hi"), GREEDY))
    assert raised.value.code == "upstream_error" and url in str(raised.value)
    backend = UpstreamBackend(url)
    assert not backend.ready


def test_requests_beyond_max_in_flight_are_queue_full(upstream: tuple[str, FakeState]) -> None:
    url, _ = upstream

    async def body(backend: UpstreamBackend) -> None:
        slow = asyncio.create_task(backend.generate(target("slow-queue", None), chat("hi"), GREEDY))
        while backend.queue_depth == 0:
            await asyncio.sleep(0.01)
        with pytest.raises(QueueFull):
            await backend.generate(target(), chat("hi"), GREEDY)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert backend.queue_depth == 0

    run_with(url, body, max_in_flight=1)


async def wait_async(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


def test_cancelling_a_request_closes_it_upstream(upstream: tuple[str, FakeState]) -> None:
    url, state = upstream

    async def body(backend: UpstreamBackend) -> None:
        task = asyncio.create_task(backend.generate(target("slow-cancel", None), chat("hi"), GREEDY))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # seen upstream while the backend (and its connection pool) still runs
        assert await wait_async(lambda: ("slow-cancel", "/v1/chat/completions") in state.disconnected)

    run_with(url, body)


def test_closing_a_stream_early_closes_it_upstream(upstream: tuple[str, FakeState]) -> None:
    url, state = upstream

    async def body(backend: UpstreamBackend) -> int:
        stream = backend.stream(target("slow-stream", None), Prompt(text="hi"), GREEDY, StreamResult())
        first = await stream.__anext__()
        assert first.text == "w0"
        depth = backend.queue_depth
        await stream.aclose()
        assert await wait_async(lambda: ("slow-stream", "/v1/completions") in state.disconnected)
        return depth - backend.queue_depth

    assert run_with(url, body) == 1


def test_stop_refuses_new_requests(upstream: tuple[str, FakeState]) -> None:
    url, _ = upstream

    async def main() -> None:
        backend = UpstreamBackend(url)
        await backend.start()
        assert backend.ready
        await backend.stop(drain_timeout_s=1)
        assert not backend.ready
        with pytest.raises(BackendError) as raised:
            await backend.generate(target(), chat("hi"), GREEDY)
        assert raised.value.status == 503

    asyncio.run(main())


def test_built_from_the_serve_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneloop.config.serve import ServeSection
    from tuneloop.errors import InvalidInput

    section = ServeSection(upstream="http://gpu:8000/", upstream_api_key_env="VLLM_KEY", max_queue=5)
    monkeypatch.delenv("VLLM_KEY", raising=False)
    with pytest.raises(InvalidInput) as raised:
        UpstreamBackend.from_section(section)
    assert "VLLM_KEY" in str(raised.value)
    monkeypatch.setenv("VLLM_KEY", "secret")
    backend = UpstreamBackend.from_section(section, naming="reference")
    assert backend.base_url == "http://gpu:8000" and backend._api_key == "secret"
    assert backend._max_in_flight == 5
    with pytest.raises(InvalidInput):
        UpstreamBackend.from_section(ServeSection())
