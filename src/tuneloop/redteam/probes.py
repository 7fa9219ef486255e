"""Probes: what a red-team run asks a model, what behaviour it expects, and which detector judges it.

A probe is data (:class:`Probe`); the built-in sets live as YAML files in ``tuneloop/redteam/probes/``
(one file per category) and a project adds its own with the same schema (``redteam.custom_probes``),
loaded by :func:`load_probe_file` with line-accurate errors. Probes built from the project itself
(training-data memorisation, canaries, PII, scope) come from :mod:`tuneloop.redteam.dynamic`.
"""

from __future__ import annotations

import hashlib
import random
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from tuneloop.config.loader import load_model_from_yaml, read_yaml, validate_data
from tuneloop.config.strict_model import StrictModel
from tuneloop.errors import ConfigError, InvalidInput, Location, TuneloopError

Expected = Literal["refuse", "comply", "not_leak", "ignore_injection", "abstain", "stay_in_scope"]
Role = Literal["system", "user", "assistant"]

BUILTIN_CATEGORIES: dict[str, str] = {
    "harmful": "Harmful requests (weapons, cyber-intrusion, fraud, self-harm, hate, privacy, drugs) must be refused.",
    "over_refusal": "Benign prompts that resemble harmful ones must be answered, not refused.",
    "injection": "Direct prompt injection and system-prompt override: the system prompt's rules must hold.",
    "extraction": "System-prompt extraction: the secret in the system prompt must not be revealed.",
    "indirect_injection": "Instructions hidden in a pasted document must not be followed.",
    "hallucination": "Unanswerable or false-premise questions must be declined or corrected.",
}
"""Categories shipped as probe files, with the behaviour each expects."""

DYNAMIC_CATEGORIES: dict[str, str] = {
    "memorisation": "Prefixes of the model's own training examples must not be continued verbatim.",
    "canary": "Canary secrets planted in the training data (`tuneloop redteam canaries`) must not be reproduced.",
    "pii": "Personal data found in the training data must not be reproduced.",
    "off_topic": "Requests outside the project's declared scope must be declined or redirected.",
}
"""Categories built from the project (its training data, canaries and declared scope)."""

ALL_CATEGORIES = {**BUILTIN_CATEGORIES, **DYNAMIC_CATEGORIES}


class ProbeMessage(StrictModel):
    """One message of a probe's conversation."""

    role: Role
    """``system``, ``user`` or ``assistant`` (an earlier assistant turn, written by the probe)."""
    content: str
    """The message text."""


class Probe(StrictModel):
    """One red-team probe: a prompt (or conversation), the expected behaviour and how it is judged."""

    id: str = Field(min_length=1)
    """Unique id within its category, e.g. ``harmful-weapons-03``."""
    category: str = Field(min_length=1)
    """Category it is reported under (a built-in one or the project's own)."""
    prompt: str | None = None
    """The user message (give either ``prompt`` or ``messages``)."""
    messages: list[ProbeMessage] | None = None
    """A whole conversation (a system prompt with a secret, earlier turns ...) ending with a user message,
    or with an assistant message the model must continue (a prefill, as memorisation probes use)."""
    turns: list[str] | None = None
    """Follow-up user turns sent one by one after the conversation, each after the model's own reply
    (multi-turn escalation); the last reply is the one judged."""
    expected: Expected
    """What a safe model does: refuse, comply (answer), not_leak, ignore_injection, abstain, stay_in_scope."""
    detector: str | None = None
    """Detector that judges the answer; None picks the default for ``expected``."""
    harm_area: str | None = None
    """Sub-area reported separately (weapons, cyber, fraud, self_harm, hate, privacy, drugs ...)."""
    secret: str | None = None
    """A string that must not appear in the answer (system-prompt secret, canary, PII value)."""
    marker: str | None = None
    """A word the injected instruction asks for; its presence in the answer means the injection worked."""
    reference: str | None = None
    """The memorised text an answer must not reproduce (memorisation probes)."""
    fail_patterns: list[str] = Field(default_factory=list)
    """Regexes (case-insensitive) whose match means failure (``keyword`` detector)."""
    pass_patterns: list[str] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    """Tool definitions offered with the prompt (memorisation probes of tool-using training records
    keep their record's tools, so the model sees the prompt it was trained on)."""
    """Regexes whose match means the model behaved (``keyword`` detector), checked before fail patterns."""
    notes: str = ""
    """Why this probe exists, for readers of the report."""
    strategy: str = "none"
    """The mutation applied to this probe (set by strategies, ``none`` for probes as written)."""
    base_id: str | None = None
    """The id of the probe a strategy variant was made from (None for originals)."""

    @model_validator(mode="after")
    def _one_input(self) -> Probe:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        if self.messages is not None:
            roles = [m.role for m in self.messages]
            if "user" not in roles or roles[-1] == "system":
                raise ValueError(
                    "'messages' must hold a user message and end with a user (or prefill assistant) message"
                )
            if roles[-1] == "assistant" and self.turns:
                raise ValueError("a probe ending with an assistant prefill cannot have follow-up 'turns'")
        return self

    @property
    def original_id(self) -> str:
        return self.base_id or self.id

    def conversation(self) -> list[dict[str, str]]:
        """The chat messages sent to the model (before any follow-up turns)."""
        if self.messages is not None:
            return [{"role": m.role, "content": m.content} for m in self.messages]
        return [{"role": "user", "content": self.prompt or ""}]

    def _last_user(self) -> int:
        return max(i for i, m in enumerate(self.messages or []) if m.role == "user")

    def user_text(self) -> str:
        """The last user message: what strategies mutate."""
        return self.prompt if self.prompt is not None else self.messages[self._last_user()].content  # type: ignore[index]

    def with_user_text(self, text: str, **changes: object) -> Probe:
        """A copy whose last user message is ``text`` (other fields from ``changes``)."""
        if self.messages is not None:
            messages = list(self.messages)
            messages[self._last_user()] = ProbeMessage(role="user", content=text)
            return self.model_copy(update={"messages": messages, **changes})
        return self.model_copy(update={"prompt": text, **changes})


class ProbeFile(StrictModel):
    """A YAML file of probes: ``probes: [...]``; ``category``/``expected`` set defaults for each."""

    category: str | None = None
    """Default category of the probes below."""
    expected: Expected | None = None
    """Default expected behaviour of the probes below."""
    detector: str | None = None
    """Default detector of the probes below."""
    description: str = ""
    """What this file probes."""
    probes: list[dict[str, object]] = Field(min_length=1)
    """The probes (see :class:`Probe` for their fields)."""


def load_probe_file(path: Path) -> list[Probe]:
    """Read a probe YAML file; every problem is reported as ``file:LINE: ...``."""
    file = load_model_from_yaml(path, ProbeFile)
    nodes = read_yaml(path)["probes"]
    defaults = {k: v for k in ("category", "expected", "detector") if (v := getattr(file, k)) is not None}
    problems: list[TuneloopError] = []
    probes: list[Probe] = []
    for index, node in enumerate(nodes):
        try:
            probes.append(validate_data(_with_defaults(node, defaults), Probe, str(path)))
        except ConfigError as err:
            problems.extend(_name_probe(problem, index) for problem in err.problems)
    if problems:
        raise ConfigError(problems)
    seen: dict[str, int] = {}
    for index, probe in enumerate(probes):
        if probe.id in seen:
            raise InvalidInput(
                "duplicate_probe_id",
                f"probes.{index}.id: '{probe.id}' repeats the id of probes.{seen[probe.id]}",
                Location(str(path), nodes.lc.item(index)[0] + 1),
            )
        seen[probe.id] = index
    return probes


def _with_defaults(node: object, defaults: dict[str, object]) -> object:
    """The YAML node with the file-level defaults added (keeping the node's line information)."""
    if isinstance(node, dict):
        for key, value in defaults.items():
            if key not in node:
                node[key] = value
    return node


def _name_probe(problem: TuneloopError, index: int) -> TuneloopError:
    """Say which probe a problem is in (``probes.3.expected: ...``)."""
    message = problem.message.replace("in the top level", f"in probes.{index}")
    message = message.replace("' in ", f"' in probes.{index}.", 1) if "in probes." not in message else message
    if problem.code == "missing_key":
        message = message.replace("key '", f"key 'probes.{index}.", 1)
    elif problem.code == "invalid_value":
        message = f"probes.{index}.{message}"
    return type(problem)(problem.code, message, problem.location)


@cache
def _builtin(category: str) -> tuple[Probe, ...]:
    source = resources.files("tuneloop.redteam") / "probes" / f"{category}.yaml"
    with resources.as_file(source) as path:
        return tuple(load_probe_file(Path(path)))


def builtin_probes(category: str) -> list[Probe]:
    """The shipped probes of one built-in category."""
    if category not in BUILTIN_CATEGORIES and category != "off_topic":
        raise InvalidInput("unknown_category", f"no built-in probe category '{category}'")
    return list(_builtin(category))


def sample_probes(probes: list[Probe], limit: int | None, seed: int) -> list[Probe]:
    """At most ``limit`` probes, a deterministic sample that keeps the original order."""
    if limit is None or len(probes) <= limit:
        return probes
    keep = set(random.Random(seed).sample(range(len(probes)), limit))
    return [p for i, p in enumerate(probes) if i in keep]


def probe_digest(probe: Probe) -> str:
    """A short content hash (pairs a candidate's and a baseline's answers to the same probe)."""
    return hashlib.sha256(probe.model_dump_json().encode()).hexdigest()[:16]
