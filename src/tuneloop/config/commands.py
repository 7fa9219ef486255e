"""Verbs ``tuneloop init``, ``tuneloop config schema`` and ``tuneloop config check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tuneloop.config import CONFIG_FILENAME, ProjectConfig, load_config
from tuneloop.console import JsonFlag, console, print_json
from tuneloop.project import init_project


def init(
    directory: Annotated[Path, typer.Argument(help="Project directory (created if missing).")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing tuneloop.yaml.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Create a project: a commented tuneloop.yaml and the .tuneloop/ state directory."""
    project = init_project(directory, force=force)
    config_path = project.root / CONFIG_FILENAME
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
