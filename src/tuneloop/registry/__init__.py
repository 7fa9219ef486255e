"""The model registry: versions with lineage, aliases with an append-only history, attached results.

Training registers each finished run as a candidate version (``<project>:<n>``); evaluation and
red-teaming attach their results; promotion and rollback (:mod:`tuneloop.deploy`, which needs the
evaluation stage's suite digests) move aliases through :func:`set_alias`, a compare-and-swap that
writes the move and its history entry in one transaction.

Everything here returns plain records (:class:`ModelVersionInfo`, :class:`AliasEvent`,
:class:`EvaluationInfo`, the views of :mod:`tuneloop.registry.inspect`) and imports nothing from
``tuneloop.models``: turning a version into weights is :func:`tuneloop.models.resolve_model`'s job.
References (``name:3``, ``name@alias``) are parsed with the shared grammar in :mod:`tuneloop.refs`.
"""

from tuneloop.registry.actor import ACTOR_ENV, current_actor
from tuneloop.registry.aliases import (
    AliasEvent,
    AliasMoved,
    AliasState,
    alias_history,
    alias_state,
    alias_target,
    as_utc,
    check_alias_name,
    list_aliases,
    set_alias,
)
from tuneloop.registry.attached_results import EvaluationInfo, attach_result, get_result, list_results
from tuneloop.registry.inspect import (
    Change,
    HistoryEntry,
    ResultSummary,
    VersionDetail,
    VersionDiff,
    VersionSummary,
    describe_history,
    describe_version,
    describe_versions,
    diff_versions,
)
from tuneloop.registry.versions import (
    ModelVersionInfo,
    get_model_version,
    get_model_version_by_id,
    list_model_versions,
    parent_reference,
    register_model_version,
)

__all__ = [
    "ACTOR_ENV",
    "AliasEvent",
    "AliasMoved",
    "AliasState",
    "Change",
    "EvaluationInfo",
    "HistoryEntry",
    "ModelVersionInfo",
    "ResultSummary",
    "VersionDetail",
    "VersionDiff",
    "VersionSummary",
    "alias_history",
    "alias_state",
    "alias_target",
    "as_utc",
    "attach_result",
    "check_alias_name",
    "current_actor",
    "describe_history",
    "describe_version",
    "describe_versions",
    "diff_versions",
    "get_model_version",
    "get_model_version_by_id",
    "get_result",
    "list_aliases",
    "list_model_versions",
    "list_results",
    "parent_reference",
    "register_model_version",
    "set_alias",
]
