"""The model registry: versions with lineage, aliases with an append-only history, attached results.

Training registers each finished run as a candidate version (``<project>:<n>``); evaluation and
red-teaming attach their results; promotion and rollback (a later stage) move aliases.
"""

from tuneloop.registry.aliases import AliasEvent, alias_history, alias_target, set_alias
from tuneloop.registry.attached_results import EvaluationInfo, attach_result, get_result, list_results
from tuneloop.registry.versions import (
    ModelVersionInfo,
    foundation_reference,
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
    "foundation_reference",
    "get_model_version",
    "get_model_version_by_id",
    "get_result",
    "list_model_versions",
    "list_results",
    "parent_reference",
    "register_model_version",
    "set_alias",
]
