"""The commented starter ``tuneloop.yaml`` that ``tuneloop init`` writes (``starter.yaml`` beside this)."""

from __future__ import annotations

from importlib import resources

from tuneloop.config.project import ProjectSection

STARTER_FILE = "starter.yaml"


def starter_config_text(name: str) -> str:
    """The commented starter ``tuneloop.yaml`` with the project's name filled in."""
    text = (resources.files("tuneloop.config") / STARTER_FILE).read_text(encoding="utf-8")
    return text.replace(f"name: {ProjectSection().name} ", f"name: {name} ", 1)
