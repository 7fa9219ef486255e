"""LLM-as-judge: rubric scoring and pairwise comparison with position swapping.

A judge is a *backend* that turns chat requests into text — an OpenAI-compatible endpoint (vLLM,
TGI, llama.cpp server, OpenAI, tuneloop's own server) through httpx, or a local model reference
through the batched generation engine — plus robust parsing around it:

1. ask for JSON (schema-constrained ``response_format`` on endpoints; a ``{"score":`` prefill on local
   models, so even a small model starts its answer in the right shape);
2. parse with pydantic; if that fails, fall back to patterns (``Score: 4/5``, ``[[A]]``, ``winner: B``);
3. retry unparseable or failed requests (``max_retries``, sampling at 0.7 so a retry can differ);
4. whatever still fails is a :class:`JudgeOutcome` with ``value=None`` and its error: the metric
   counts it as a failure and leaves it out of the statistics; it is never scored.

Pairwise judging asks twice, with the answers in both orders. Orders that agree decide; a preference
in one order and a tie in the other counts as that preference; opposite preferences are position
bias, counted as a tie and reported as ``inconsistent``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field, ValidationError

from tuneloop.config.evaluate import JudgeSettings
from tuneloop.evaluate.cache import GenerationCache, cache_key
from tuneloop.evaluate.metrics.textutil import extract_json

if TYPE_CHECKING:
    import httpx

    from tuneloop.project import Project

Messages = list[dict[str, str]]
VerdictT = TypeVar("VerdictT", bound=BaseModel)
RETRY_TEMPERATURE = 0.7


class RubricVerdict(BaseModel):
    """What a rubric judge must answer."""

    reasoning: str = ""
    score: float


class PairwiseVerdict(BaseModel):
    """What a pairwise judge must answer."""

    reasoning: str = ""
    winner: Literal["A", "B", "tie"]


@dataclass(frozen=True)
class JudgeRequest:
    """One question to the judge: the messages and, for local models, the start of the answer."""

    messages: Messages
    prefill: str = ""


@dataclass(frozen=True)
class JudgeOutcome:
    """A parsed verdict, or None with the reason it failed after every attempt."""

    value: BaseModel | None
    attempts: int
    raw: str
    error: str | None = None


class JudgeBackend(Protocol):
    """Turns requests into raw answers (or the exception that prevented one)."""

    identity: str

    def complete(
        self, requests: Sequence[JudgeRequest], *, attempt: int, schema: dict[str, Any] | None
    ) -> list[str | Exception]: ...


class OpenAICompatibleJudge:
    """A judge behind ``POST {base_url}/chat/completions``."""

    def __init__(
        self, settings: JudgeSettings, transport: httpx.BaseTransport | None = None, backoff_s: float = 1.0
    ) -> None:
        import httpx

        if not settings.base_url:
            raise ValueError("an endpoint judge needs base_url")
        self.settings = settings
        self.identity = f"openai:{settings.base_url}:{settings.model}"
        headers = {}
        if settings.api_key_env and os.environ.get(settings.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[settings.api_key_env]}"
        self.client = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            headers=headers,
            timeout=settings.timeout_s,
            transport=transport,
        )
        self.backoff_s = backoff_s
        self.structured = settings.structured_output

    def complete(
        self, requests: Sequence[JudgeRequest], *, attempt: int, schema: dict[str, Any] | None
    ) -> list[str | Exception]:
        if attempt > 0 and self.backoff_s:
            time.sleep(min(30.0, self.backoff_s * 2 ** (attempt - 1)))
        temperature = self.settings.temperature if attempt == 0 else RETRY_TEMPERATURE
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            return list(pool.map(lambda r: self._one(r, temperature, schema), requests))

    def _one(
        self, request: JudgeRequest, temperature: float, schema: dict[str, Any] | None
    ) -> str | Exception:
        import httpx

        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": request.messages,
            "temperature": temperature,
            "max_tokens": self.settings.max_tokens,
        }
        if schema is not None and self.structured == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": schema, "strict": True},
            }
        elif schema is not None and self.structured == "json_object":
            body["response_format"] = {"type": "json_object"}
        try:
            response = self.client.post("/chat/completions", json=body)
            if response.status_code == 400 and "response_format" in body:
                # Many servers reject response_format; ask again without it and remember.
                self.structured = "none"
                body.pop("response_format")
                response = self.client.post("/chat/completions", json=body)
            response.raise_for_status()
            return str(response.json()["choices"][0]["message"]["content"] or "")
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            return exc


class LocalModelJudge:
    """A judge run locally from a model reference with the batched generation engine."""

    def __init__(self, settings: JudgeSettings, project: Project | None) -> None:
        self.settings = settings
        self.project = project
        self.identity = f"local:{settings.model}"

    def complete(
        self, requests: Sequence[JudgeRequest], *, attempt: int, schema: dict[str, Any] | None
    ) -> list[str | Exception]:
        from tuneloop.evaluate.generation import GenerationSettings, generate_for_model

        settings = GenerationSettings(
            max_new_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature if attempt == 0 else RETRY_TEMPERATURE,
            top_p=0.95,
            seed=attempt,
        )
        conversations = [
            r.messages + ([{"role": "assistant", "content": r.prefill}] if r.prefill else [])
            for r in requests
        ]
        generations = generate_for_model(self.project, self.settings.model, conversations, settings)
        return [r.prefill + g.text for r, g in zip(requests, generations, strict=True)]


def make_judge(settings: JudgeSettings, project: Project | None = None) -> JudgeBackend:
    """The backend the settings describe: an endpoint when ``base_url`` is set, else a local model."""
    if settings.base_url:
        return OpenAICompatibleJudge(settings)
    return LocalModelJudge(settings, project)


# --------------------------------------------------------------------------------------------------
# Parsing


_SCORE_PATTERNS = [
    re.compile(r'"?score"?\s*[:=]\s*"?(-?\d+(?:\.\d+)?)', re.IGNORECASE),
    re.compile(r"\[\[\s*(-?\d+(?:\.\d+)?)\s*\]\]"),
    re.compile(r"(?:rating|grade)\s*[:=]?\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE),
    re.compile(r"\b(-?\d+(?:\.\d+)?)\s*/\s*\d+\b"),
]
_WINNER_PATTERNS = [
    re.compile(r'"?winner"?\s*[:=]\s*"?\s*(A|B|tie)\b', re.IGNORECASE),
    re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE),
    re.compile(r"\b(?:response|assistant|answer)\s+(A|B)\s+is\s+better\b", re.IGNORECASE),
]


def parse_verdict(text: str, model: type[VerdictT]) -> VerdictT:
    """Parse a judge's answer as ``model`` (JSON first, then patterns); raise ValueError if neither works."""
    try:
        data = extract_json(text, extract=True)
        if isinstance(data, dict):
            if model is PairwiseVerdict and isinstance(data.get("winner"), str):
                data["winner"] = _winner_word(data["winner"])
            return model.model_validate(data)
    except (ValueError, ValidationError):
        pass
    patterns = _SCORE_PATTERNS if model is RubricVerdict else _WINNER_PATTERNS
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            key = "score" if model is RubricVerdict else "winner"
            value: Any = float(match.group(1)) if key == "score" else _winner_word(match.group(1))
            try:
                return model.model_validate({key: value, "reasoning": text.strip()[:500]})
            except ValidationError:
                continue
    raise ValueError(f"unparseable verdict: {text.strip()[:120]!r}")


def _winner_word(raw: str) -> str:
    word = raw.strip().strip('"').lower()
    return {"a": "A", "b": "B", "c": "tie", "tie": "tie", "draw": "tie", "equal": "tie"}.get(word, raw)


def run_judge(
    backend: JudgeBackend,
    requests: Sequence[JudgeRequest],
    parse: Callable[[str], BaseModel],
    *,
    schema: dict[str, Any] | None,
    max_retries: int,
    cache: GenerationCache | None = None,
) -> list[JudgeOutcome]:
    """Ask every request, retrying failures up to ``max_retries`` times; failures stay failures.

    Parsed verdicts are cached (keyed on the backend and the request); failures are not, so a later
    run asks again.
    """
    keys = [cache_key("judge", backend.identity, r.messages, r.prefill, schema) for r in requests]
    found = cache.get_many(sorted(set(keys))) if cache is not None else {}
    outcomes: list[JudgeOutcome | None] = [None] * len(requests)
    last: dict[int, tuple[str, str]] = {}
    for index, key in enumerate(keys):
        if key in found:
            outcomes[index] = JudgeOutcome(parse(found[key]), attempts=0, raw=found[key])
    pending = [i for i, o in enumerate(outcomes) if o is None]
    for attempt in range(max_retries + 1):
        if not pending:
            break
        answers = backend.complete([requests[i] for i in pending], attempt=attempt, schema=schema)
        still = []
        for index, answer in zip(pending, answers, strict=True):
            if isinstance(answer, Exception):
                last[index] = ("", f"judge request failed: {type(answer).__name__}: {answer}")
                still.append(index)
                continue
            try:
                outcomes[index] = JudgeOutcome(parse(answer), attempts=attempt + 1, raw=answer)
                if cache is not None:
                    cache.put(keys[index], answer)
            except ValueError as exc:
                last[index] = (answer, str(exc))
                still.append(index)
        pending = still
    for index in pending:
        raw, error = last.get(index, ("", "no answer"))
        outcomes[index] = JudgeOutcome(None, attempts=max_retries + 1, raw=raw, error=error)
    return [o for o in outcomes if o is not None]


# --------------------------------------------------------------------------------------------------
# Prompts


class RubricRequestSpec(BaseModel):
    """What a rubric judgement is about."""

    rubric: str
    scale_min: int = 1
    scale_max: int = 5
    conversation: Messages = Field(default_factory=list)
    answer: str = ""
    reference: str | None = None


def _transcript(messages: Messages) -> str:
    return "\n".join(f"[{m.get('role', 'user')}] {m.get('content', '')}" for m in messages)


def rubric_request(spec: RubricRequestSpec) -> JudgeRequest:
    reference = (
        f"\n\nA reference answer (for comparison, not to copy):\n{spec.reference}" if spec.reference else ""
    )
    user = (
        f"Grade the assistant's answer against this rubric:\n{spec.rubric}\n\n"
        f"Conversation so far:\n{_transcript(spec.conversation)}{reference}\n\n"
        f"Assistant's answer to grade:\n{spec.answer}\n\n"
        f"Give an integer score from {spec.scale_min} (worst) to {spec.scale_max} (best). Reply with only a "
        'JSON object: {"reasoning": "<one sentence>", "score": <integer>}'
    )
    system = "You are a strict, impartial grader. You answer with JSON only."
    return JudgeRequest(
        [{"role": "system", "content": system}, {"role": "user", "content": user}], prefill='{"score": '
    )


def pairwise_request(criteria: str, conversation: Messages, first: str, second: str) -> JudgeRequest:
    user = (
        f"Compare two answers to the same conversation on: {criteria}\n\n"
        f"Conversation:\n{_transcript(conversation)}\n\n[Answer A]\n{first}\n[End of A]\n\n"
        f"[Answer B]\n{second}\n[End of B]\n\n"
        "Ignore the order and the length of the answers. Reply with only a JSON object: "
        '{"reasoning": "<one sentence>", "winner": "A" | "B" | "tie"}'
    )
    system = "You are an impartial judge comparing two answers. You answer with JSON only."
    return JudgeRequest(
        [{"role": "system", "content": system}, {"role": "user", "content": user}], prefill='{"winner": "'
    )


def rubric_schema(scale_min: int, scale_max: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "score": {"type": "integer", "minimum": scale_min, "maximum": scale_max},
        },
        "required": ["reasoning", "score"],
        "additionalProperties": False,
    }


PAIRWISE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "winner": {"type": "string", "enum": ["A", "B", "tie"]}},
    "required": ["reasoning", "winner"],
    "additionalProperties": False,
}


def parse_rubric(scale_min: int, scale_max: int) -> Callable[[str], RubricVerdict]:
    """A parser that also rejects scores outside the scale (retried like any unparseable answer)."""

    def parse(text: str) -> RubricVerdict:
        verdict = parse_verdict(text, RubricVerdict)
        if not scale_min <= verdict.score <= scale_max:
            raise ValueError(f"score {verdict.score:g} outside {scale_min}-{scale_max}")
        return verdict

    return parse


def parse_pairwise(text: str) -> PairwiseVerdict:
    return parse_verdict(text, PairwiseVerdict)


@dataclass(frozen=True)
class PairwiseResult:
    """The candidate's result against the baseline on one item, both orders considered."""

    outcome: Literal["win", "tie", "loss"] | None
    """None when either order's judgement failed."""
    inconsistent: bool
    first: JudgeOutcome
    swapped: JudgeOutcome


def combine_orders(first: JudgeOutcome, swapped: JudgeOutcome) -> PairwiseResult:
    """Candidate was A in ``first`` and B in ``swapped``; agreeing orders decide, flips are ties."""
    if first.value is None or swapped.value is None:
        return PairwiseResult(None, False, first, swapped)
    to_candidate = {"A": "win", "B": "loss", "tie": "tie"}
    a = to_candidate[first.value.winner]  # type: ignore[attr-defined]
    b = {"A": "loss", "B": "win", "tie": "tie"}[swapped.value.winner]  # type: ignore[attr-defined]
    if a == b:
        return PairwiseResult(a, False, first, swapped)  # type: ignore[arg-type]
    if "tie" in (a, b):
        decided = a if b == "tie" else b
        return PairwiseResult(decided, False, first, swapped)  # type: ignore[arg-type]
    return PairwiseResult("tie", True, first, swapped)
