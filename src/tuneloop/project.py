"""A tuneloop project: a directory with ``tuneloop.yaml`` and its state under ``.tuneloop/``.

``.tuneloop/state.db`` (or ``TUNELOOP_DB_URL``) holds the store, ``.tuneloop/artifacts/`` the
content-addressed artifacts, ``.tuneloop/cache/`` rebuildable caches (converted models, generations).
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tuneloop.config import CONFIG_FILENAME, ProjectConfig, load_config
from tuneloop.errors import NotFound
from tuneloop.store import ArtifactRecord, ArtifactStore, Store, database_url

STATE_DIRNAME = ".tuneloop"
MODEL_CACHE_ENV = "TUNELOOP_MODEL_CACHE"
HOME_ENV = "TUNELOOP_HOME"


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` holding ``tuneloop.yaml``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILENAME).is_file():
            return candidate
    return None


def user_home() -> Path:
    """Where tuneloop keeps state that belongs to no project (``TUNELOOP_HOME``)."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "tuneloop")


@dataclass
class Project:
    """An opened project: its config, store, artifacts and caches."""

    root: Path
    config: ProjectConfig = field(default_factory=ProjectConfig)

    @classmethod
    def open(cls, start: Path | None = None, config_path: Path | None = None) -> Project:
        """Open the project containing ``start`` (or the one ``config_path`` belongs to)."""
        if config_path is not None:
            return cls(config_path.resolve().parent, load_config(config_path))
        root = find_project_root(start)
        if root is None:
            raise NotFound(
                "no_project",
                f"no {CONFIG_FILENAME} in {(start or Path.cwd()).resolve()} or above; run `tuneloop init`",
            )
        return cls(root, load_config(root / CONFIG_FILENAME))

    @classmethod
    def open_optional(cls, start: Path | None = None) -> Project | None:
        """The enclosing project, or None when the command runs outside any project."""
        root = find_project_root(start)
        return None if root is None else cls(root, load_config(root / CONFIG_FILENAME))

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIRNAME

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @cached_property
    def store(self) -> Store:
        """The project's database, migrated to the newest schema on first use."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        store = Store(database_url(self.state_dir))
        store.migrate()
        return store

    @cached_property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.state_dir / "artifacts")

    def resolve_path(self, path: str | Path) -> Path:
        """Paths in the config are relative to the project root."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    def record_artifact(self, data: bytes, kind: str, name: str | None = None) -> str:
        """Store bytes as an artifact and index them in the database; returns the sha256."""
        sha = self.artifacts.put_bytes(data)
        media_type = mimetypes.guess_type(name or "")[0] if name else None
        with self.store.session() as session:
            if session.get(ArtifactRecord, sha) is None:
                session.add(
                    ArtifactRecord(sha256=sha, size=len(data), kind=kind, name=name, media_type=media_type)
                )
        return sha


def config_of(project: Project | None) -> ProjectConfig:
    """The project's config, or the defaults outside a project.

    Code that runs with or without a project reads every setting through this, so a default is
    written once, in its pydantic field, never restated as ``x if project else <literal>``.
    """
    return project.config if project is not None else ProjectConfig()


def model_cache_dir(project: Project | None) -> Path:
    """Where converted base models live: ``TUNELOOP_MODEL_CACHE``, else the project's cache, else home."""
    if env := os.environ.get(MODEL_CACHE_ENV):
        return Path(env)
    if project is not None:
        return project.cache_dir / "models"
    return user_home() / "models"
