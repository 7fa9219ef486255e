"""The ``project`` section: who the project is for and how its models may be used."""

from __future__ import annotations

from pydantic import Field

from tuneloop.config.strict_model import StrictModel


class IntendedUse(StrictModel):
    """How the fine-tuned model will be used; the licence check compares this with each base model."""

    commercial: bool = True
    """The model serves a commercial product or internal business use (most enterprise projects)."""
    monthly_active_users: int | None = Field(default=None, ge=0)
    """Expected monthly active users of the product; some licences (Llama) cap this. None: unknown."""
    distribution: bool = False
    """Weights or a product containing them are shipped to third parties (some licences add duties)."""


class Scope(StrictModel):
    """What the assistant is for; the red-team off-topic probes test that it stays inside it."""

    description: str = "A helpful assistant."
    """One or two sentences saying what the assistant does."""
    allowed_topics: list[str] = Field(default_factory=list)
    """Topics the assistant should help with; empty means no restriction."""


class ProjectSection(StrictModel):
    """Project identity and declared use."""

    name: str = Field(default="my-project", min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """Project name; model versions are registered as ``<name>:<n>``."""
    description: str = ""
    """Free text shown in reports."""
    system_prompt: str | None = None
    """The project's prompt, used for the foundation baseline (``eval baseline``) and in training data
    that has no system message of its own."""
    use: IntendedUse = Field(default_factory=IntendedUse)
    """Declared intended use, checked against each base model's licence."""
    scope: Scope = Field(default_factory=Scope)
    """The assistant's declared scope."""
