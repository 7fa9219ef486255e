"""A tuneloop project: a directory with ``tuneloop.yaml`` and its state under ``.tuneloop/``.

``.tuneloop/state.db`` (or ``TUNELOOP_DB_URL``) holds the store, ``.tuneloop/artifacts/`` the
content-addressed artifacts, ``.tuneloop/cache/`` rebuildable caches (generations). Converted base
models belong to no project: they live once per machine in :func:`model_cache_dir`.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tuneloop.config import CONFIG_FILENAME, ProjectConfig, ProjectSection, load_config, starter_config_text
from tuneloop.errors import InvalidInput, Location, NotFound
from tuneloop.store import ArtifactRecord, ArtifactStore, Store, atomic_write_text, database_url

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
    """Where tuneloop keeps state that belongs to no project: ``TUNELOOP_HOME``, else
    ``$XDG_CACHE_HOME/tuneloop``, else ``~/.cache/tuneloop``."""
    if home := os.environ.get(HOME_ENV):
        return Path(home).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "tuneloop"
    return Path.home() / ".cache" / "tuneloop"


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


def init_project(directory: Path, *, force: bool = False) -> Project:
    """Create a project in ``directory`` (made if missing): the commented starter ``tuneloop.yaml``
    named after the directory, the store with every migration applied, and a ``.gitignore`` keeping
    ``.tuneloop/`` out of version control (an existing one is left alone).

    Raises:
        InvalidInput: ``project_exists`` when ``tuneloop.yaml`` exists and ``force`` is False.
    """
    directory = directory.resolve()
    config_path = directory / CONFIG_FILENAME
    if config_path.exists() and not force:
        raise InvalidInput(
            "project_exists",
            f"{config_path} already exists; use --force to overwrite it",
            Location(str(config_path)),
        )
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config_path, starter_config_text(_project_name(directory)))
    project = Project.open(config_path=config_path)
    project.store  # creates .tuneloop/state.db and applies the migrations  # noqa: B018
    gitignore = directory / ".gitignore"
    if not gitignore.exists():
        atomic_write_text(gitignore, f"{STATE_DIRNAME}/\n")
    return project


def _project_name(directory: Path) -> str:
    """The directory's name as a valid project name, or the default name if nothing of it is usable."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in directory.name).strip("-._")
    return cleaned or ProjectSection().name


def config_of(project: Project | None) -> ProjectConfig:
    """The project's config, or the defaults outside a project.

    Code that runs with or without a project reads every setting through this, so a default is
    written once, in its pydantic field, never restated as ``x if project else <literal>``.
    """
    return project.config if project is not None else ProjectConfig()


def model_cache_dir() -> Path:
    """Where converted base models live, shared by every project of the user: ``TUNELOOP_MODEL_CACHE``,
    else ``models/`` in :func:`user_home`.

    A conversion depends only on its source file, so one copy per machine serves every project
    (:mod:`tuneloop.models.model_cache` keys the entries by the source's hash).
    """
    if env := os.environ.get(MODEL_CACHE_ENV):
        return Path(env).expanduser()
    return user_home() / "models"


def legacy_model_cache_dir(project: Project) -> Path:
    """Where tuneloop before the shared cache put a project's converted models (adopted, not rebuilt)."""
    return project.cache_dir / "models"
