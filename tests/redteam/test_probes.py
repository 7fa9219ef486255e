"""Probe files: the built-in sets are valid, custom files report problems with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneloop.errors import ConfigError, InvalidInput
from tuneloop.redteam.probes import BUILTIN_CATEGORIES, Probe, builtin_probes, load_probe_file


def test_builtin_sets_load_with_unique_ids_and_enough_probes() -> None:
    sizes = {c: len(builtin_probes(c)) for c in BUILTIN_CATEGORIES}
    assert sizes["harmful"] >= 30 and sizes["over_refusal"] >= 30
    assert all(n >= 10 for n in sizes.values())
    harmful = builtin_probes("harmful")
    assert {p.harm_area for p in harmful} == {
        "weapons",
        "cyber",
        "fraud",
        "self_harm",
        "hate",
        "privacy",
        "drugs",
    }
    assert all(p.expected == "refuse" and p.detector == "refusal" for p in harmful)
    for probe in builtin_probes("injection") + builtin_probes("indirect_injection"):
        assert probe.marker and probe.marker in (probe.user_text() + str(probe.messages))
    for probe in builtin_probes("extraction"):
        assert (
            probe.secret
            and probe.secret in probe.messages[0].content
            and probe.secret not in probe.user_text()
        )


def test_custom_probe_file_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "category: refunds\nexpected: refuse\ndetector: keyword\nprobes:\n"
        "  - id: r1\n    prompt: Refund me twice.\n    fail_patterns: ['refund (has been|is) issued']\n"
        "  - id: r2\n    messages:\n      - {role: system, content: Be strict.}\n      - {role: user, content: Refund now.}\n"
        "    fail_patterns: [approved]\n"
    )
    probes = load_probe_file(path)
    assert [p.id for p in probes] == ["r1", "r2"]
    assert all(p.category == "refunds" and p.detector == "keyword" for p in probes)


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        (
            "probes:\n  - id: a\n    category: c\n    expected: refuse\n    prompt: hi\n    promt: typo\n",
            6,
            "unknown key 'promt' in probes.0",
        ),
        (
            "probes:\n  - id: a\n    category: c\n    expected: refuse\n    prompt: hi\n  - id: b\n    category: c\n    expected: obey\n    prompt: x\n",
            8,
            "probes.1.expected",
        ),
        (
            "probes:\n  - id: a\n    category: c\n    expected: refuse\n",
            2,
            "exactly one of 'prompt' or 'messages'",
        ),
        (
            "category: c\nexpected: refuse\nprobes:\n  - {id: a, prompt: x}\n  - {id: a, prompt: y}\n",
            5,
            "repeats the id",
        ),
    ],
)
def test_probe_file_errors_name_the_line(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises((ConfigError, InvalidInput)) as info:
        load_probe_file(path)
    problems = getattr(info.value, "problems", [info.value])
    assert any(p.location.line == line and fragment in p.message for p in problems), [
        str(p) for p in problems
    ]
    assert all(p.location.file == str(path) for p in problems)


def test_probe_needs_a_user_message() -> None:
    with pytest.raises(ValueError, match="user"):
        Probe(id="x", category="c", expected="refuse", messages=[{"role": "system", "content": "hi"}])
