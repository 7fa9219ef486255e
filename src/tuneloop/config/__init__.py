"""Typed project configuration: ``tuneloop.yaml`` is a :class:`ProjectConfig`.

Each section lives in its own module, documented beside each field; YAML only serialises them.
``tuneloop config schema`` prints the JSON Schema, ``tuneloop config check`` validates a file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from tuneloop.config.data import DataSection
from tuneloop.config.evaluate import EvalSection
from tuneloop.config.loader import load_model_from_yaml, read_yaml, validate_data
from tuneloop.config.model import LicenceOverride, ModelSection
from tuneloop.config.monitor import MonitorSection
from tuneloop.config.project import IntendedUse, ProjectSection, Scope
from tuneloop.config.redteam import RedteamSection
from tuneloop.config.serve import ServeSection
from tuneloop.config.starter import starter_config_text
from tuneloop.config.strict_model import StrictModel
from tuneloop.config.train import LoraSettings, TrainSection

CONFIG_FILENAME = "tuneloop.yaml"


class ProjectConfig(StrictModel):
    """The whole of ``tuneloop.yaml``."""

    project: ProjectSection = Field(default_factory=ProjectSection)
    """Identity and declared use."""
    data: DataSection = Field(default_factory=DataSection)
    """Datasets and data-quality settings."""
    model: ModelSection = Field(default_factory=ModelSection)
    """Base model."""
    train: TrainSection = Field(default_factory=TrainSection)
    """Training."""
    eval: EvalSection = Field(default_factory=EvalSection)
    """Evaluation."""
    redteam: RedteamSection = Field(default_factory=RedteamSection)
    """Red-teaming."""
    serve: ServeSection = Field(default_factory=ServeSection)
    """Serving."""
    monitor: MonitorSection = Field(default_factory=MonitorSection)
    """Monitoring."""


def load_config(path: Path) -> ProjectConfig:
    """Load and validate ``tuneloop.yaml``; every problem is reported with its line."""
    return load_model_from_yaml(path, ProjectConfig)


__all__ = [
    "CONFIG_FILENAME",
    "DataSection",
    "EvalSection",
    "IntendedUse",
    "LicenceOverride",
    "LoraSettings",
    "ModelSection",
    "MonitorSection",
    "ProjectConfig",
    "ProjectSection",
    "RedteamSection",
    "Scope",
    "ServeSection",
    "TrainSection",
    "load_config",
    "load_model_from_yaml",
    "read_yaml",
    "starter_config_text",
    "validate_data",
]
