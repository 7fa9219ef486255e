"""Canaries: unique random strings planted in a training set so memorisation becomes measurable.

``tuneloop redteam canaries IN -o OUT`` copies a JSONL training file, inserting ``count`` canary
records (each repeated ``repeats`` times, at seeded random positions) in the file's own format, and
saves a manifest (id, question, prefix, secret) beside OUT and in the project's artifacts. The
memorisation probes then ask each canary's question and its prefix; a model that answers with the
secret has memorised it (the idea of Carlini et al., "The Secret Sharer", 2019). A canary's secret is
random, so a model that was not trained on it cannot produce it by chance.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tuneloop.errors import InvalidInput, Location
from tuneloop.store import atomic_write_lines, atomic_write_text, sha256_file

MANIFEST_KIND = "redteam-canaries"
"""Artifact kind of canary manifests in the project store."""
_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Canary:
    """One planted canary."""

    id: str
    question: str
    """The user turn of the planted record (what the memorisation probe asks)."""
    text: str
    """The planted sentence, containing the secret."""
    prefix: str
    """The planted sentence up to the secret (a continuation probe)."""
    secret: str
    """The random part: leaking it means the model memorised the canary."""


@dataclass(frozen=True)
class CanaryManifest:
    """What :func:`plant_canaries` wrote, saved so red-team runs can probe for it."""

    source: str
    source_sha256: str
    output: str
    output_sha256: str
    format: str
    repeats: int
    seed: int
    canaries: list[Canary]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CanaryManifest:
        canaries = [Canary(**c) for c in data["canaries"]]
        return cls(**{**data, "canaries": canaries})


def make_canaries(count: int, template: str, secret_length: int, seed: int) -> list[Canary]:
    """``count`` canaries with random secrets drawn from a seeded generator (reproducible)."""
    if "{secret}" not in template or "{id}" not in template:
        raise InvalidInput("bad_canary_template", "the canary template must contain {id} and {secret}")
    rng = random.Random(seed)
    canaries = []
    for _ in range(count):
        ident = "".join(rng.choice(string.ascii_uppercase) for _ in range(3)) + str(rng.randint(100, 999))
        secret = "".join(rng.choice(_ALPHABET) for _ in range(secret_length))
        text = template.format(id=ident, secret=secret)
        prefix = text[: text.index(secret)].rstrip()
        question = _question(template, ident)
        canaries.append(Canary(id=ident, question=question, text=text, prefix=prefix, secret=secret))
    return canaries


def _question(template: str, ident: str) -> str:
    """A question whose answer is the canary: the template's subject turned into 'What is ...?'."""
    head = template.split("{secret}")[0].format(id=ident).strip()
    subject = head.removeprefix("The ").removeprefix("the ")
    for verb in (" is", " are", ":"):
        if subject.endswith(verb):
            subject = subject[: -len(verb)]
            break
    return f"What is the {subject}?"


def detect_format(record: dict[str, Any], path: Path, line: int) -> str:
    """The JSONL record layout: ``messages`` (OpenAI chat), ``alpaca``, ``prompt_completion`` or ``text``."""
    if isinstance(record.get("messages"), list):
        return "messages"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if "prompt" in record and "completion" in record:
        return "prompt_completion"
    if isinstance(record.get("text"), str):
        return "text"
    raise InvalidInput(
        "unsupported_format",
        "cannot plant canaries in this record: expected 'messages', 'instruction'/'output', "
        "'prompt'/'completion' or 'text'",
        Location(str(path), line),
    )


def canary_record(canary: Canary, layout: str) -> dict[str, Any]:
    """A training record carrying the canary, in the same layout as the file it goes into."""
    if layout == "messages":
        return {
            "messages": [
                {"role": "user", "content": canary.question},
                {"role": "assistant", "content": canary.text},
            ]
        }
    if layout == "alpaca":
        return {"instruction": canary.question, "input": "", "output": canary.text}
    if layout == "prompt_completion":
        return {"prompt": canary.question, "completion": canary.text}
    return {"text": canary.text}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """JSON objects, one per non-empty line; a bad line is reported with its number."""
    if not path.is_file():
        raise InvalidInput("file_not_found", f"no such file: {path}", Location(str(path)))
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput("bad_json", f"invalid JSON: {exc.msg}", Location(str(path), number)) from None
        if not isinstance(value, dict):
            raise InvalidInput("bad_record", "each line must be a JSON object", Location(str(path), number))
        records.append(value)
    if not records:
        raise InvalidInput("empty_file", "no records to plant canaries among", Location(str(path)))
    return records


def plant_canaries(
    source: Path,
    output: Path,
    *,
    count: int,
    template: str,
    secret_length: int = 12,
    repeats: int = 1,
    seed: int = 0,
) -> CanaryManifest:
    """Copy ``source`` to ``output`` with canary records inserted; write ``<output>.canaries.json``.

    Both files are written atomically (temp file, then rename): an interrupted run leaves nothing
    half-written, and ``source`` is never modified.
    """
    if source.resolve() == output.resolve():
        raise InvalidInput("same_file", "the output must differ from the input (the input is never modified)")
    if count < 1 or repeats < 1:
        raise InvalidInput("bad_count", "--count and --repeats must be at least 1")
    records = read_jsonl(source)
    layout = detect_format(records[0], source, 1)
    canaries = make_canaries(count, template, secret_length, seed)
    planted = list(records)
    rng = random.Random(seed + 1)
    for canary in canaries:
        for _ in range(repeats):
            planted.insert(rng.randint(0, len(planted)), canary_record(canary, layout))
    atomic_write_lines(output, (json.dumps(r, ensure_ascii=False) + "\n" for r in planted))
    manifest = CanaryManifest(
        source=str(source),
        source_sha256=sha256_file(source),
        output=str(output),
        output_sha256=sha256_file(output),
        format=layout,
        repeats=repeats,
        seed=seed,
        canaries=canaries,
    )
    atomic_write_text(manifest_path(output), json.dumps(manifest.to_dict(), indent=2) + "\n")
    return manifest


def manifest_path(output: Path) -> Path:
    """Where the manifest of a planted file lies: ``train.jsonl`` -> ``train.jsonl.canaries.json``."""
    return output.with_name(output.name + ".canaries.json")
