"""The model registry: versions with lineage, aliases with an append-only history, attached results.

Training registers each finished run as a candidate version (``<project>:<n>``); evaluation and
red-teaming attach their results; promotion and rollback (a later stage) move aliases.

Everything here returns plain records (:class:`ModelVersionInfo`, :class:`AliasEvent`,
:class:`EvaluationInfo`) and imports nothing from ``tuneloop.models``: turning a version into weights
is :func:`tuneloop.models.resolve_model`'s job. References (``name:3``, ``name@alias``) are parsed
with the shared grammar in :mod:`tuneloop.refs`.
"""

from tuneloop.registry.aliases import AliasEvent, alias_history, alias_target, set_alias
from tuneloop.registry.attached_results import EvaluationInfo, attach_result, get_result, list_results
from tuneloop.registry.versions import (
    ModelVersionInfo,
    get_model_version,
    get_model_version_by_id,
    list_model_versions,
    parent_reference,
    register_model_version,
)

__all__ = [
    "AliasEvent",
    "EvaluationInfo",
    "ModelVersionInfo",
    "alias_history",
    "alias_target",
    "attach_result",
    "get_model_version",
    "get_model_version_by_id",
    "get_result",
    "list_model_versions",
    "list_results",
    "parent_reference",
    "register_model_version",
    "set_alias",
]
