"""Deployment: gated promotion and rollback of registry aliases.

It sits above ``registry`` (records only), ``evaluate`` and ``redteam``: promotion needs the current
digest of each evaluation suite, which only the evaluation stage computes.

- :func:`promote` (``tuneloop registry promote``) and :func:`rollback` (``tuneloop registry rollback``),
  with :class:`PromotionResult`, :class:`RollbackResult` and :class:`Check`;
- :func:`promotion_checks` (what a promote would find now) and :func:`rollback_target` (the undo rule).
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

__all__ = [
    "Check",
    "PromotionResult",
    "RollbackResult",
    "promote",
    "promotion_checks",
    "rollback",
    "rollback_target",
]
