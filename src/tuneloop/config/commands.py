"""Verbs ``tuneloop init``, ``tuneloop config schema`` and ``tuneloop config check``."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from tuneloop.config import CONFIG_FILENAME, ProjectConfig, ProjectSection, load_config
from tuneloop.console import JsonFlag, console, print_json
from tuneloop.errors import InvalidInput, Location
from tuneloop.store import atomic_write_text


def starter_config_text(name: str) -> str:
    """The commented starter ``tuneloop.yaml`` with the project's name filled in."""
    text = (resources.files("tuneloop.config") / "starter.yaml").read_text(encoding="utf-8")
    return text.replace(f"name: {ProjectSection().name} ", f"name: {name} ", 1)


def _project_name(directory: Path) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in directory.name).strip("-._")
    return cleaned or ProjectSection().name


def init(
    directory: Annotated[Path, typer.Argument(help="Project directory (created if missing).")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing tuneloop.yaml.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Create a project: a commented tuneloop.yaml and the .tuneloop/ state directory."""
    from tuneloop.project import Project

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
        atomic_write_text(gitignore, ".tuneloop/\n")
    if json_output:
        print_json({"ok": True, "config": str(config_path), "state_dir": str(project.state_dir)})
        return
    console.print(f"created {config_path}")
    console.print(f"state in {project.state_dir}")
    console.print("next: `tuneloop models recommend`, then `tuneloop data check` on your dataset")


def schema(json_output: JsonFlag = False) -> None:
    """Print the JSON Schema of tuneloop.yaml (always JSON)."""
    print_json(ProjectConfig.model_json_schema())


def check(
    file: Annotated[Path, typer.Argument(help="Config file to validate.")] = Path(CONFIG_FILENAME),
    json_output: JsonFlag = False,
) -> None:
    """Validate a tuneloop.yaml: unknown keys and wrong types are reported with their line."""
    config = load_config(file)
    if json_output:
        print_json({"ok": True, "file": str(file), "config": json.loads(config.model_dump_json())})
        return
    console.print(f"{file}: ok (project '{config.project.name}', base model {config.model.base})")
