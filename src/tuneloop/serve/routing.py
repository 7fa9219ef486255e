"""Model names -> the exact version that answers (:class:`~tuneloop.serve.backend.Target`).

A request names ``name@alias``, ``name:N``, ``base:<catalog-id>`` or a bare name (the project's name,
or any registered name, meaning ``<name>@<serve.model>``). Only registry and catalog references are
servable: anything that looks like a path (``/``, ``\\``, ``..``, ``~``) or a hub id is refused, so no
request can point the server at files outside the artifact store.

Alias lookups are cached for ``serve.alias_refresh_s``: a promote or rollback reaches new requests
within that time, without a restart. Versions are immutable, so their resolved files are cached for
good. Canary rules send a sticky share of API keys (a hash of key name and model name) from
``<name>@<serving_alias>`` to ``<name>@<rule.alias>`` when that alias exists.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from tuneloop.config.serve import CanaryRule, ServeSection
from tuneloop.errors import InvalidInput, NotFound
from tuneloop.models import ResolvedModel, resolve_model
from tuneloop.project import Project
from tuneloop.refs import ModelRef, parse_model_ref
from tuneloop.registry import ModelVersionInfo, alias_target, get_model_version, list_model_versions
from tuneloop.serve.backend import Target
from tuneloop.store import AliasRecord, BaseModelRecord

_FORBIDDEN = ("/", "\\", "..", "~", "\x00")
_MAX_NAME = 300


def check_servable_name(raw: str, *, param: str = "model") -> str:
    """``raw`` stripped, or :class:`InvalidInput` when it could name a path instead of a model."""
    text = raw.strip()
    if not text or len(text) > _MAX_NAME:
        raise InvalidInput("invalid_model", f"{param}: a model name must be 1 to {_MAX_NAME} characters")
    if any(bad in text for bad in _FORBIDDEN) or text.startswith(".") or any(c.isspace() for c in text):
        raise InvalidInput(
            "invalid_model",
            f"{param}: '{raw}' is not servable: only registry and catalog references "
            "(name@alias, name:N, base:<catalog-id>, a registered name) are, never paths",
        )
    return text


def registered_name_of(model_name: str) -> str:
    """``support@production``/``support:3``/``support`` -> ``support``; ``base:<id>`` stays as is."""
    if model_name.startswith("base:"):
        return model_name
    return model_name.split("@", 1)[0].split(":", 1)[0]


def canary_bucket(key_name: str | None, model_name: str) -> float:
    """A number in [0, 1) fixed for one key and model name: the sticky side of a canary split."""
    digest = hashlib.sha256(f"{key_name or ''}|{model_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class _Cached:
    info: ModelVersionInfo | None
    fetched_at: float


class Router:
    """Resolves model names for one project and serve section; safe to call from several threads."""

    def __init__(
        self, project: Project, section: ServeSection, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.project = project
        self.section = section
        self._clock = clock
        self._lock = threading.Lock()
        self._aliases: dict[tuple[str, str], _Cached] = {}
        self._resolved: dict[str, ResolvedModel] = {}
        self._canary = {rule.name: rule for rule in section.canary}

    @property
    def default_model(self) -> str:
        return f"{self.project.config.project.name}@{self.section.model}"

    def resolve(self, model_name: str, key_name: str | None = None) -> Target:
        """The exact version answering a request for ``model_name`` from ``key_name``."""
        requested = check_servable_name(model_name)
        ref = self._parse(requested)
        if ref.kind == "base":
            return self._base_target(requested, ref)
        if ref.kind == "version":
            return self._version_target(requested, get_model_version(self.project, ref), None)
        assert ref.alias is not None
        alias = self._route_canary(ref.name, ref.alias, key_name)
        info = self.alias_version(ref.name, alias)
        if info is None:
            raise NotFound("model_not_found", f"no alias '{ref.name}@{alias}' in this project")
        return self._version_target(requested, info, alias)

    def alias_version(self, name: str, alias: str) -> ModelVersionInfo | None:
        """The version behind ``name@alias``, asking the registry at most every ``alias_refresh_s``."""
        now = self._clock()
        with self._lock:
            cached = self._aliases.get((name, alias))
        if cached is not None and now - cached.fetched_at < self.section.alias_refresh_s:
            return cached.info
        info = alias_target(self.project, name, alias)
        with self._lock:
            self._aliases[(name, alias)] = _Cached(info, now)
        return info

    def servable_models(self) -> list[str]:
        """Every name a request may use: each registered name's aliases and versions, pulled bases."""
        names: list[str] = []
        project_name = self.project.config.project.name
        with self.project.store.session() as session:
            aliases = [
                (a.name, a.alias) for a in session.scalars(select(AliasRecord).order_by(AliasRecord.id))
            ]
            bases = sorted(
                {b.catalog_id for b in session.scalars(select(BaseModelRecord)) if b.catalog_id is not None}
            )
        if (project_name, self.section.model) in aliases:
            names.append(project_name)
        names.extend(f"{name}@{alias}" for name, alias in aliases)
        names.extend(info.reference for info in list_model_versions(self.project))
        names.extend(f"base:{catalog_id}" for catalog_id in bases)
        return names

    def canonical_name(self, model_name: str) -> str:
        """A bare name as the reference it stands for (``support`` -> ``support@production``)."""
        text = model_name.strip()
        return f"{text}@{self.section.model}" if "@" not in text and ":" not in text else text

    def _parse(self, requested: str) -> ModelRef:
        ref = parse_model_ref(self.canonical_name(requested))
        if ref.kind not in ("base", "version", "alias"):
            raise InvalidInput("invalid_model", f"'{requested}' is not a registry or catalog reference")
        return ref

    def _route_canary(self, name: str, alias: str, key_name: str | None) -> str:
        rule: CanaryRule | None = self._canary.get(name)
        if rule is None or alias != rule.serving_alias or rule.share <= 0:
            return alias
        if canary_bucket(key_name, f"{name}@{alias}") >= rule.share:
            return alias
        return rule.alias if self.alias_version(name, rule.alias) is not None else alias

    def _base_target(self, requested: str, ref: ModelRef) -> Target:
        with self.project.store.session() as session:
            pulled = session.scalars(
                select(BaseModelRecord).where(BaseModelRecord.catalog_id == ref.name).limit(1)
            ).first()
        if pulled is None:
            raise NotFound(
                "model_not_found",
                f"'{ref.raw}' is not pulled into this project; run `tuneloop models pull {ref.raw}` first",
            )
        resolved = self._resolve(ref.raw)
        return Target(
            requested=requested,
            reference=ref.raw,
            name=ref.raw,
            version=None,
            version_id=None,
            base_path=resolved.base_path,
            base_weights_sha256=resolved.base_weights_sha256,
            adapter_path=None,
            merged_weights=False,
            identity=resolved.identity,
        )

    def _version_target(self, requested: str, info: ModelVersionInfo, alias: str | None) -> Target:
        resolved = self._resolve(info.reference)
        return Target(
            requested=requested,
            reference=info.reference,
            name=info.name,
            version=info.version,
            version_id=info.id,
            base_path=resolved.base_path,
            base_weights_sha256=resolved.base_weights_sha256,
            adapter_path=resolved.adapter_path,
            merged_weights=resolved.merged_weights,
            identity=resolved.identity,
            alias=alias,
        )

    def _resolve(self, reference: str) -> ResolvedModel:
        """Files of an immutable reference (a version or a pulled base), resolved once."""
        with self._lock:
            cached = self._resolved.get(reference)
        if cached is None:
            cached = resolve_model(reference, self.project)
            with self._lock:
                self._resolved[reference] = cached
        return cached
