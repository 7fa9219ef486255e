"""The ``model`` section: which base model to fine-tune and how to load it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tuneloop.config.strict_model import StrictModel


class LicenceOverride(StrictModel):
    """An explicit, recorded decision to use a base model whose licence check failed."""

    reason: str = Field(min_length=10)
    """Why the use is allowed anyway (e.g. a signed agreement with the licensor); stored with every run."""
    approved_by: str = Field(min_length=1)
    """Who took the decision."""


class ModelSection(StrictModel):
    """Base model choice and loading settings."""

    base: str = "base:smollm2-135m-instruct"
    """Model reference: ``base:<catalog-id>``, a local directory, a Hugging Face id, or ``name:3``."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights dtype when loading; ``auto`` picks bfloat16 where the hardware runs it fast, else float32."""
    chat_template: str | None = None
    """Path to a Jinja chat template overriding the model's own (rarely needed)."""
    max_length: int = Field(default=2048, ge=16)
    """Longest example (in tokens, after the chat template) used for training and evaluation."""
    licence_override: LicenceOverride | None = None
    """Use a base model despite a failed licence check; the override is recorded with each run."""
