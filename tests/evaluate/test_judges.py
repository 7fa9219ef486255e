"""Judges: robust parsing, retries then counted failures, position swapping, a local model judge."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tuneloop.config.evaluate import JudgeSettings
from tuneloop.evaluate.generation import Generation
from tuneloop.evaluate.items import EvalItem
from tuneloop.evaluate.judges import (
    JudgeOutcome,
    LocalModelJudge,
    OpenAICompatibleJudge,
    PairwiseVerdict,
    RubricVerdict,
    combine_orders,
    parse_rubric,
    parse_verdict,
)
from tuneloop.evaluate.metrics import ScoringContext, ScoringInput, get_metric, parse_metric_options


def endpoint(reply, calls: list[dict]) -> OpenAICompatibleJudge:
    """An OpenAI-compatible judge whose server answers ``reply(body)`` (text, or an httpx.Response)."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body)
        answer = reply(body)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": answer}}]})

    settings = JudgeSettings(base_url="http://judge.local/v1", model="judge-model", max_retries=2)
    return OpenAICompatibleJudge(settings, transport=httpx.MockTransport(handler), backoff_s=0)


def rubric_scores(judge, answers: list[str], spec: dict | None = None) -> list:
    options = parse_metric_options(
        spec or {"name": "judge_rubric", "rubric": "Is the answer correct and polite?"}
    )
    items = [EvalItem(str(i), [{"role": "user", "content": f"q{i}"}], "ref") for i in range(len(answers))]
    inputs = [ScoringInput(a, "ref", item) for a, item in zip(answers, items, strict=True)]
    context = ScoringContext(judge=judge.settings, judge_backend=judge)
    return [row["judge_rubric"] for row in get_metric("judge_rubric").score(inputs, options, context)]


def test_parse_json_and_pattern_fallbacks() -> None:
    assert parse_verdict('{"reasoning": "fine", "score": 4}', RubricVerdict).score == 4
    assert parse_verdict('Here you go: ```json\n{"score": 2}\n```', RubricVerdict).score == 2
    assert parse_verdict("The answer is decent. Score: 3/5", RubricVerdict).score == 3
    assert parse_verdict("Rating: [[5]]", RubricVerdict).score == 5
    assert parse_verdict('{"winner": "b"}', PairwiseVerdict).winner == "B"
    assert parse_verdict("After thought, [[A]]", PairwiseVerdict).winner == "A"
    with pytest.raises(ValueError):
        parse_verdict("I like both of them", PairwiseVerdict)
    with pytest.raises(ValueError, match="outside"):
        parse_rubric(1, 5)('{"score": 9}')


def test_rubric_over_endpoint_sends_schema_and_normalises() -> None:
    calls: list[dict] = []
    judge = endpoint(lambda body: '{"reasoning": "ok", "score": 4}', calls)
    values = rubric_scores(judge, ["fine answer"])
    assert values[0].score == pytest.approx(0.75) and values[0].details["raw_score"] == 4
    assert calls[0]["response_format"]["type"] == "json_schema" and calls[0]["model"] == "judge-model"


def test_malformed_judge_is_retried_then_counted_as_failure() -> None:
    calls: list[dict] = []
    judge = endpoint(lambda body: "I think it is quite good overall!", calls)
    values = rubric_scores(judge, ["a", "b"])
    assert all(v.score is None for v in values)
    assert all("unparseable" in (v.error or "") for v in values)
    assert len(calls) == 2 * 3  # first try + 2 retries, per item
    assert [c["temperature"] for c in calls[::2]] == [0.0, 0.7, 0.7]  # retries sample so they can differ


def test_retry_recovers_when_a_later_answer_parses() -> None:
    calls: list[dict] = []
    judge = endpoint(lambda body: "hmm" if len(calls) == 1 else '{"reasoning": "", "score": 5}', calls)
    values = rubric_scores(judge, ["a"])
    assert values[0].score == 1.0 and values[0].details["attempts"] == 2


def test_endpoint_errors_count_as_failures_and_response_format_fallback() -> None:
    calls: list[dict] = []
    judge = endpoint(lambda body: httpx.Response(500, json={"error": "boom"}), calls)
    values = rubric_scores(judge, ["a"])
    assert values[0].score is None and "HTTPStatusError" in values[0].error

    calls = []

    def no_schema(body):
        if "response_format" in body:
            return httpx.Response(400, json={"error": "response_format not supported"})
        return '{"score": 2}'

    judge = endpoint(no_schema, calls)
    assert rubric_scores(judge, ["a"])[0].score == pytest.approx(0.25)
    assert "response_format" in calls[0] and "response_format" not in calls[1]


def test_pairwise_swaps_positions() -> None:
    ok = JudgeOutcome(PairwiseVerdict(winner="A"), 1, "")
    b = JudgeOutcome(PairwiseVerdict(winner="B"), 1, "")
    tie = JudgeOutcome(PairwiseVerdict(winner="tie"), 1, "")
    assert (
        combine_orders(ok, b).outcome == "win"
    )  # candidate first: A; swapped: B -> both prefer the candidate
    assert combine_orders(b, ok).outcome == "loss"
    biased = combine_orders(ok, ok)  # always prefers the first position: position bias
    assert biased.outcome == "tie" and biased.inconsistent
    assert combine_orders(ok, tie).outcome == "win"
    assert combine_orders(JudgeOutcome(None, 3, "x", "bad"), ok).outcome is None


def _pairwise(judge, candidate: list[str], baseline: list[str]) -> list:
    options = parse_metric_options("judge_pairwise")
    items = [EvalItem(str(i), [{"role": "user", "content": "q"}], None) for i in range(len(candidate))]
    c = [ScoringInput(a, None, i) for a, i in zip(candidate, items, strict=True)]
    b = [ScoringInput(a, None, i) for a, i in zip(baseline, items, strict=True)]
    return get_metric("judge_pairwise").compare(
        c, b, options, ScoringContext(judge=judge.settings, judge_backend=judge)
    )


def test_pairwise_metric_with_content_aware_and_position_biased_judges() -> None:
    def content_judge(body):
        text = body["messages"][1]["content"]
        first = text.split("[Answer A]\n")[1].split("\n[End of A]")[0]
        return '{"winner": "A"}' if first == "GOOD" else '{"winner": "B"}'

    values = _pairwise(endpoint(content_judge, []), ["GOOD", "GOOD"], ["bad", "bad"])
    assert [v.score for v in values] == [1.0, 1.0]
    biased = _pairwise(endpoint(lambda body: '{"winner": "A"}', []), ["GOOD"], ["bad"])
    assert biased[0].score == 0.5 and biased[0].details["inconsistent"]
    broken = _pairwise(endpoint(lambda body: "no idea", []), ["GOOD"], ["bad"])
    assert broken[0].score is None and broken[0].error


def test_local_model_judge_counts_a_useless_model_as_failures(lively_model_dir: Path) -> None:
    """A tiny random model is a useless judge: it continues the ``{"score": `` prefill with noise, so
    every item fails as unparseable after the first try and its one retry, and no score is invented."""
    settings = JudgeSettings(model=str(lively_model_dir), max_tokens=16, max_retries=1)
    judge = LocalModelJudge(settings, None)
    values = rubric_scores(judge, ["an answer", "another"])
    assert len(values) == 2
    for value in values:
        assert value.score is None and (value.error or "").startswith("unparseable verdict")
        assert value.details["attempts"] == 2 and value.details["raw"].startswith('{"score": ')


def test_local_model_judge_continues_its_prefill(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local judge asks the model to continue ``{"score": `` and parses prefill + continuation."""
    asked: list[list[dict]] = []

    def answer(project, reference, conversations, settings, **kwargs):
        asked.extend(conversations)
        return [Generation(" 4}", 2, 2, 0.01, "stop") for _ in conversations]

    monkeypatch.setattr("tuneloop.evaluate.generation.generate_for_model", answer)
    judge = LocalModelJudge(JudgeSettings(model="judge-model", max_retries=0), None)
    (value,) = rubric_scores(judge, ["an answer"])
    assert value.score == pytest.approx(0.75) and value.details["raw_score"] == 4
    assert asked[0][-1] == {"role": "assistant", "content": '{"score": '}


def test_verdicts_are_cached_failures_are_not(tmp_path: Path) -> None:
    from tuneloop.evaluate.cache import GenerationCache

    calls: list[dict] = []
    judge = endpoint(lambda body: '{"score": 3}', calls)
    cache = GenerationCache(tmp_path / "c.sqlite")
    options = parse_metric_options({"name": "judge_rubric", "rubric": "Is it right?"})
    item = EvalItem("1", [{"role": "user", "content": "q"}], "r")
    context = ScoringContext(judge=judge.settings, judge_backend=judge, disk_cache=cache)
    for _ in range(2):
        get_metric("judge_rubric").score(
            [ScoringInput("a", "r", item, Generation("a", 1, 1, 0.0, "stop"))], options, context
        )
    assert len(calls) == 1
