"""Which generator ``tuneloop serve`` uses: :func:`make_backend` picks it from the ``serve`` section.

- ``serve.upstream`` (``--upstream URL``) set: :class:`~tuneloop.serve.upstream.UpstreamBackend`
  forwards generation to an OpenAI-compatible engine (a vLLM fleet, another ``tuneloop serve``);
  routing, keys, canary and the request log stay here.
- otherwise: :class:`~tuneloop.serve.engine.LocalEngine` generates on this machine, with the default
  model (``<project>@<serve.model>``) loaded before the server reports ready. When that alias does not
  exist yet (nothing promoted), the server still starts and loads models on their first request.
"""

from __future__ import annotations

from tuneloop.config.serve import ServeSection
from tuneloop.errors import NotFound
from tuneloop.project import Project
from tuneloop.serve.backend import Backend, Target


def make_backend(project: Project, section: ServeSection) -> Backend:
    """The backend serving ``project`` under ``section``."""
    if section.upstream:
        from tuneloop.serve.upstream import UpstreamBackend

        return UpstreamBackend.from_section(section, naming=section.upstream_naming)
    from tuneloop.serve.engine import LocalEngine
    from tuneloop.serve.model_pool import ModelPool

    return LocalEngine(
        section.max_queue,
        section.max_batch_size,
        section.batch_wait_ms,
        default_target=default_target(project, section),
        pool=ModelPool(dtype=project.config.model.dtype),
    )


def default_target(project: Project, section: ServeSection) -> Target | None:
    """The version behind ``<project>@<serve.model>`` now, or None when that alias does not exist."""
    from tuneloop.serve.routing import Router

    router = Router(project, section)
    try:
        return router.resolve(router.default_model)
    except NotFound:
        return None
