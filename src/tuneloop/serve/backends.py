"""Which generator ``tuneloop serve`` uses: :func:`make_backend` picks it from the ``serve`` section.

This branch has no generator yet, so it refuses with a clear error; the local engine and the
upstream backend are wired in here when they land.
"""

from __future__ import annotations

from tuneloop.config.serve import ServeSection
from tuneloop.project import Project
from tuneloop.serve.backend import Backend, BackendError


def make_backend(project: Project, section: ServeSection) -> Backend:
    """The backend serving ``project``: an upstream engine when ``section.upstream`` is set, else the
    local engine."""
    raise BackendError("no generator available", status=503, code="no_generator")
