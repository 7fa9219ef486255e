"""Deployment: gated promotion and rollback of registry aliases.

It sits above ``registry`` (records only), ``evaluate`` and ``redteam``: promotion needs the current
digest of each evaluation suite, which only the evaluation stage computes.

- :func:`promote` (``tuneloop registry promote``) and :func:`rollback` (``tuneloop registry rollback``),
  with :class:`PromotionResult`, :class:`RollbackResult` and :class:`Check`;
- :func:`promotion_checks` (what a promote would find now) and :func:`rollback_target` (the undo rule);
- :func:`deploy_vllm` (``tuneloop deploy vllm``): an alias's versions exported for a vLLM fleet under
  immutable names, with the launch command and the alias map.
"""

from tuneloop.deploy.promotion import (
    Check,
    PromotionResult,
    RollbackResult,
    promote,
    promotion_checks,
    rollback,
    rollback_target,
)
from tuneloop.deploy.vllm import ExportedVersion, VllmDeployment, VllmServer, deploy_vllm

__all__ = [
    "Check",
    "ExportedVersion",
    "PromotionResult",
    "RollbackResult",
    "VllmDeployment",
    "VllmServer",
    "deploy_vllm",
    "promote",
    "promotion_checks",
    "rollback",
    "rollback_target",
]
