"""The model-reference grammar: ``base:<catalog-id>``, ``name:3``, ``name@alias``, a directory, a hub id.

It lives above both :mod:`tuneloop.models` (which resolves references to weights) and
:mod:`tuneloop.registry` (which looks registered versions up), so neither imports the other for it;
``tuneloop.models`` re-exports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tuneloop.errors import InvalidInput

RefKind = Literal["base", "version", "alias", "path", "hub"]

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_VERSION = re.compile(rf"^(?P<name>{_NAME}):(?P<version>\d+)$")
_ALIAS = re.compile(rf"^(?P<name>{_NAME})@(?P<alias>{_NAME})$")
_HUB = re.compile(rf"^{_NAME}/{_NAME}$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference."""

    raw: str
    kind: RefKind
    name: str
    """Catalog id, registered model name, path or hub id, depending on ``kind``."""
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return self.raw


def parse_model_ref(raw: str, cwd: Path | None = None) -> ModelRef:
    """Classify ``raw``; an existing directory always wins over the other readings."""
    text = raw.strip()
    if not text:
        raise InvalidInput("invalid_model_ref", "empty model reference")
    if text.startswith("base:"):
        return ModelRef(text, "base", text.removeprefix("base:"))
    path = Path(text).expanduser()
    if not path.is_absolute() and cwd is not None:
        path = cwd / path
    if path.is_dir():
        return ModelRef(text, "path", str(path.resolve()))
    if match := _VERSION.match(text):
        return ModelRef(text, "version", match["name"], version=int(match["version"]))
    if match := _ALIAS.match(text):
        return ModelRef(text, "alias", match["name"], alias=match["alias"])
    if _HUB.match(text):
        return ModelRef(text, "hub", text)
    raise InvalidInput(
        "invalid_model_ref",
        f"'{raw}' is not a model reference: use base:<catalog-id>, <name>:<version>, <name>@<alias>, "
        "a model directory or a Hugging Face id (org/name)",
    )
