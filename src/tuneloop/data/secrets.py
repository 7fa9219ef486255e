"""Secrets in text: known credential formats, key=value assignments, and high-entropy tokens.

A model fine-tuned on a credential can repeat it to anyone, so secrets fail the data gate by default.
Known formats (AWS, GitHub, Slack, OpenAI, Anthropic, Stripe, Google, JWT, PEM private keys) are
matched by their documented prefixes; ``api_key=...``-style assignments by the name; anything else
long and random by Shannon entropy (>= 4.3 bits per character over 32+ characters, mixed case and
digits, which natural words, UUIDs and hex digests never reach).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from tuneloop.data.pii import PiiFinding, TextFacts, resolve_overlaps

# (kind, literal markers one of which must occur, pattern): the markers skip the regex for most texts
_KNOWN: list[tuple[str, tuple[str, ...], re.Pattern[str]]] = [
    ("private_key", ("PRIVATE KEY",), re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z]+ )*PRIVATE KEY-----|$)", re.S)),
    ("api_key", ("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{60,}\b")),
    ("token", ("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("api_key", ("sk-",), re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}|\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}")),
    ("api_key", ("_live_",), re.compile(r"\b(?:sk|rk)_live_[0-9A-Za-z]{16,}\b")),
    ("api_key", ("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("token", ("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
]  # fmt: skip
_ALL_MARKERS = tuple(m for _, markers, _ in _KNOWN for m in markers)
_ASSIGNMENT_MARKERS = ("key", "secret", "token", "pass", "pwd")
_ASSIGNMENT = re.compile(
    r"(?i)\b(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|password|passwd|pwd|client[_-]?secret)"
    r"\s*[:=]\s*[\"']?(?P<value>[^\s\"',;]{8,})"
)
_PLACEHOLDER = re.compile(
    r"(?i)^(?:<.*>|\$\{.*\}|\{\{.*\}\}|x{4,}|\*{3,}|\.{3,}|your[_-].*|changeme|example.*|redacted|none|null)$"
)
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=-]{32,}(?![A-Za-z0-9+/_=-])")
ENTROPY_BITS = 4.3


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _random_looking(value: str) -> bool:
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
    return classes == 3 and shannon_entropy(value) >= ENTROPY_BITS


def _mask(value: str) -> str:
    return f"{value[:4]}***" if len(value) > 8 else "***"


def detect_secrets(text: str) -> list[PiiFinding]:
    """Secrets in ``text`` as findings of kind ``private_key``, ``api_key``, ``token``, ``password`` or
    ``high_entropy``, with the value masked."""
    return resolve_overlaps(secret_candidates(TextFacts(text)))


def secret_candidates(facts: TextFacts) -> list[PiiFinding]:
    """Every secret finding, overlaps not yet resolved (shared with the PII scan)."""
    text = facts.text
    found: list[PiiFinding] = []
    for kind, markers, pattern in _KNOWN if [m for m in _ALL_MARKERS if m in text] else ():
        if not any(marker in text for marker in markers):
            continue
        for match in pattern.finditer(text):
            masked = "-----BEGIN PRIVATE KEY----- ***" if kind == "private_key" else _mask(match.group(0))
            found.append(PiiFinding(kind, match.start(), match.end(), masked))
    assignable = ("=" in text or ":" in text) and [m for m in _ASSIGNMENT_MARKERS if m in text.lower()]
    assignments = _ASSIGNMENT.finditer(text) if assignable else ()
    for match in assignments:
        value = match.group("value")
        if not _PLACEHOLDER.match(value):
            kind = "password" if re.match(r"(?i)pass|pwd", match.group(0)) else "api_key"
            found.append(PiiFinding(kind, match.start("value"), match.end("value"), _mask(value)))
    long_tokens = len(text) >= 32 and max(map(len, facts.tokens), default=0) >= 32
    for match in _CANDIDATE.finditer(text) if long_tokens else ():
        if _random_looking(match.group(0)):
            found.append(PiiFinding("high_entropy", match.start(), match.end(), _mask(match.group(0))))
    return found
