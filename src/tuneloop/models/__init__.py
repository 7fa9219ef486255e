"""Base models: the catalog and its choice, licence checks, resolving references, loading and chat.

Import from here, not from the modules behind it; the names are resolved on first use, so importing
``tuneloop.models`` stays light (torch and transformers load only inside the functions that need
them)::

    from tuneloop.models import load_model, resolve_model

    resolved = resolve_model("base:smollm2-135m-instruct", project)  # or "name:3", "name@production"
    loaded = load_model(resolved, dtype="auto")                        # .model, .tokenizer, .device
    answer = chat_once(loaded, "What is the capital of France?")

The public API, by job:

- references: :class:`ModelRef`, :func:`parse_model_ref` (the grammar lives in :mod:`tuneloop.refs`,
  shared with the registry).
- resolving (the one resolver: reference -> local weights, registered versions via the registry's
  plain records): :class:`ResolvedModel`, :func:`resolve_model`, :func:`pull_base_model`,
  :func:`chat_template_sha256`.
- loading (the one loader): :class:`LoadedModel`, :func:`load_model`, :func:`load_tokenizer`,
  :func:`quiet_transformers`, :func:`pick_device`, :func:`resolve_dtype`, :func:`autocast_context`,
  :func:`cpu_supports_fast_bf16`.
- the catalog: :class:`CatalogEntry` (with :class:`LicenceInfo`, :class:`Tooling`),
  :func:`load_catalog`, :func:`parse_catalog`, :func:`get_entry`, :func:`filter_entries`,
  :func:`render_markdown_table`.
- choosing a base model: :func:`recommend` (:class:`Recommendation`), :func:`describe_entry`
  (:class:`EntryReport`, what ``models show`` prints).
- serving cost: :func:`estimate_cost_per_million_tokens` (:class:`CostEstimate`,
  :class:`CostAssumptions`), :func:`monthly_cost`, :func:`compare_to_reference` (against
  :data:`REFERENCE_MODEL_ID`).
- licences: :class:`UseDeclaration`, :class:`LicenceDecision`, :func:`check_licence`,
  :func:`enforce_licence`.
- the bundled offline model: :data:`BUNDLED_CATALOG_ID`, :func:`bundled_model_dir` (converted once
  per machine into the user's model cache, shared by projects), :func:`convert_bundled_model` (into a
  directory of the caller's choice), :func:`bundled_gguf_path`, :func:`read_manifest`,
  :func:`weights_sha256`.
- chat: :func:`render_chat` (THE chat rendering, used by data, training, evaluation, red-teaming and
  chat), :class:`ChatSettings`, :func:`chat_with_model` (the ``tuneloop chat`` stage),
  :func:`chat_once`, :func:`stream_chat`, :func:`build_messages`.
- cost: :func:`count_parameters`, :func:`adapter_parameters`, :func:`training_flops_per_token`,
  :func:`measure_matmul_flops`.
- shared-prefix KV cache: :data:`MIN_SHARED_PREFIX`, :func:`common_prefix_length`, :func:`prefix_cache`.

CLI: ``tuneloop models list|show|recommend|pull`` and ``tuneloop chat`` (see ``docs/models.md``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> defining module, imported on first use. The value is not cached here, so a test that
# replaces a function in its defining module is seen by every ``from tuneloop.models import ...``
# made after the replacement.
_EXPORTS = {
    "ModelRef": "tuneloop.refs",
    "RefKind": "tuneloop.refs",
    "parse_model_ref": "tuneloop.refs",
    "ResolvedModel": "tuneloop.models.resolve",
    "chat_template_sha256": "tuneloop.models.resolve",
    "pull_base_model": "tuneloop.models.resolve",
    "resolve_model": "tuneloop.models.resolve",
    "LoadedModel": "tuneloop.models.loading",
    "autocast_context": "tuneloop.models.loading",
    "cpu_supports_fast_bf16": "tuneloop.models.loading",
    "load_model": "tuneloop.models.loading",
    "load_tokenizer": "tuneloop.models.loading",
    "pick_device": "tuneloop.models.loading",
    "quiet_transformers": "tuneloop.models.loading",
    "resolve_dtype": "tuneloop.models.loading",
    "CatalogEntry": "tuneloop.models.catalog",
    "CostAssumptions": "tuneloop.models.serving_cost",
    "CostEstimate": "tuneloop.models.serving_cost",
    "LicenceInfo": "tuneloop.models.catalog",
    "EntryReport": "tuneloop.models.choice",
    "Recommendation": "tuneloop.models.choice",
    "describe_entry": "tuneloop.models.choice",
    "Tooling": "tuneloop.models.catalog",
    "compare_to_reference": "tuneloop.models.serving_cost",
    "estimate_cost_per_million_tokens": "tuneloop.models.serving_cost",
    "filter_entries": "tuneloop.models.catalog",
    "get_entry": "tuneloop.models.catalog",
    "load_catalog": "tuneloop.models.catalog",
    "monthly_cost": "tuneloop.models.serving_cost",
    "parse_catalog": "tuneloop.models.catalog",
    "REFERENCE_MODEL_ID": "tuneloop.models.serving_cost",
    "recommend": "tuneloop.models.choice",
    "render_markdown_table": "tuneloop.models.catalog",
    "LicenceDecision": "tuneloop.models.licence",
    "UseDeclaration": "tuneloop.models.licence",
    "check_licence": "tuneloop.models.licence",
    "enforce_licence": "tuneloop.models.licence",
    "BUNDLED_CATALOG_ID": "tuneloop.models.bundled",
    "bundled_gguf_path": "tuneloop.models.bundled",
    "bundled_model_dir": "tuneloop.models.bundled",
    "convert_bundled_model": "tuneloop.models.bundled",
    "read_manifest": "tuneloop.models.bundled",
    "weights_sha256": "tuneloop.models.bundled",
    "render_chat": "tuneloop.models.chat_template",
    "ChatSettings": "tuneloop.models.chat",
    "build_messages": "tuneloop.models.chat",
    "chat_once": "tuneloop.models.chat",
    "chat_with_model": "tuneloop.models.chat",
    "stream_chat": "tuneloop.models.chat",
    "adapter_parameters": "tuneloop.models.cost",
    "count_parameters": "tuneloop.models.cost",
    "measure_matmul_flops": "tuneloop.models.cost",
    "training_flops_per_token": "tuneloop.models.cost",
    "MIN_SHARED_PREFIX": "tuneloop.models.kv_cache",
    "common_prefix_length": "tuneloop.models.kv_cache",
    "prefix_cache": "tuneloop.models.kv_cache",
}

if TYPE_CHECKING:
    from tuneloop.models.bundled import (
        BUNDLED_CATALOG_ID,
        bundled_gguf_path,
        bundled_model_dir,
        convert_bundled_model,
        read_manifest,
        weights_sha256,
    )
    from tuneloop.models.catalog import (
        CatalogEntry,
        LicenceInfo,
        Tooling,
        filter_entries,
        get_entry,
        load_catalog,
        parse_catalog,
        render_markdown_table,
    )
    from tuneloop.models.chat import ChatSettings, build_messages, chat_once, chat_with_model, stream_chat
    from tuneloop.models.chat_template import render_chat
    from tuneloop.models.choice import EntryReport, Recommendation, describe_entry, recommend
    from tuneloop.models.cost import (
        adapter_parameters,
        count_parameters,
        measure_matmul_flops,
        training_flops_per_token,
    )
    from tuneloop.models.kv_cache import MIN_SHARED_PREFIX, common_prefix_length, prefix_cache
    from tuneloop.models.licence import LicenceDecision, UseDeclaration, check_licence, enforce_licence
    from tuneloop.models.loading import (
        LoadedModel,
        autocast_context,
        cpu_supports_fast_bf16,
        load_model,
        load_tokenizer,
        pick_device,
        quiet_transformers,
        resolve_dtype,
    )
    from tuneloop.models.resolve import ResolvedModel, chat_template_sha256, pull_base_model, resolve_model
    from tuneloop.models.serving_cost import (
        REFERENCE_MODEL_ID,
        CostAssumptions,
        CostEstimate,
        compare_to_reference,
        estimate_cost_per_million_tokens,
        monthly_cost,
    )
    from tuneloop.refs import ModelRef, RefKind, parse_model_ref


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tuneloop.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "BUNDLED_CATALOG_ID",
    "MIN_SHARED_PREFIX",
    "REFERENCE_MODEL_ID",
    "CatalogEntry",
    "ChatSettings",
    "CostAssumptions",
    "CostEstimate",
    "EntryReport",
    "LicenceDecision",
    "LicenceInfo",
    "LoadedModel",
    "ModelRef",
    "Recommendation",
    "RefKind",
    "ResolvedModel",
    "Tooling",
    "UseDeclaration",
    "adapter_parameters",
    "autocast_context",
    "build_messages",
    "bundled_gguf_path",
    "bundled_model_dir",
    "chat_once",
    "chat_template_sha256",
    "chat_with_model",
    "check_licence",
    "common_prefix_length",
    "compare_to_reference",
    "convert_bundled_model",
    "count_parameters",
    "cpu_supports_fast_bf16",
    "describe_entry",
    "enforce_licence",
    "estimate_cost_per_million_tokens",
    "filter_entries",
    "get_entry",
    "load_catalog",
    "load_model",
    "load_tokenizer",
    "measure_matmul_flops",
    "monthly_cost",
    "parse_catalog",
    "parse_model_ref",
    "pick_device",
    "prefix_cache",
    "pull_base_model",
    "quiet_transformers",
    "read_manifest",
    "recommend",
    "render_chat",
    "render_markdown_table",
    "resolve_dtype",
    "resolve_model",
    "stream_chat",
    "training_flops_per_token",
    "weights_sha256",
]
