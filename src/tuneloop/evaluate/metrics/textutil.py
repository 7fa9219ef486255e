"""Text helpers metrics share: normalisation, JSON extraction from chatty answers, field lookup."""

from __future__ import annotations

import json
import re
import string
from typing import Any

from tuneloop.config.strict_model import StrictModel

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_MISSING = object()


class Normalisation(StrictModel):
    """How answers and references are normalised before comparing them."""

    lowercase: bool = True
    """Compare case-insensitively."""
    collapse_whitespace: bool = True
    """Trim and turn runs of whitespace into one space."""
    strip_punctuation: bool = False
    """Remove ASCII punctuation."""
    remove_articles: bool = False
    """Remove English articles (a, an, the), as SQuAD's exact match does."""
    strip_code_fences: bool = True
    """Take the inside of a Markdown code fence wrapping the whole answer."""


class FieldOption(StrictModel):
    """Score a field of a JSON answer instead of the whole text."""

    field: str | None = None
    """Dot path into a JSON answer and reference (``reply``, ``order.id``, ``items.0``); None: whole text."""


def strip_fences(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1) if match else text


def normalise(text: str, options: Normalisation) -> str:
    if options.strip_code_fences:
        text = strip_fences(text)
    if options.lowercase:
        text = text.lower()
    if options.strip_punctuation:
        text = text.translate(_PUNCTUATION)
    if options.remove_articles:
        text = _ARTICLES.sub(" ", text)
    if options.collapse_whitespace:
        text = " ".join(text.split())
    return text


def extract_json(text: str, *, extract: bool = True) -> Any:
    """Parse ``text`` as JSON; with ``extract``, also find it inside fences or surrounding prose.

    Raises ValueError when no JSON value is found.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        first_error = exc
    if not extract:
        raise ValueError(f"not JSON: {first_error.msg} at char {first_error.pos}")
    fenced = strip_fences(stripped)
    if fenced != stripped:
        try:
            return json.loads(fenced)
        except json.JSONDecodeError:
            pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", stripped):
        try:
            value, _ = decoder.raw_decode(stripped, match.start())
            return value
        except json.JSONDecodeError:
            continue
    raise ValueError(f"no JSON value found ({first_error.msg} at char {first_error.pos})")


def lookup(value: Any, path: str) -> Any:
    """The value at a dot path (``a.b.0``), or raise KeyError naming the missing part."""
    current = value
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            raise KeyError(part)
    return current


def field_text(text: str | None, field: str | None) -> str | None:
    """The text to score: the whole answer, or a field of its JSON (None if it has no such field)."""
    if text is None or field is None:
        return text
    try:
        value = lookup(extract_json(text), field)
    except (ValueError, KeyError):
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
