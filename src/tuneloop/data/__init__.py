"""Data stage: load, validate, measure, gate, split and version fine-tuning datasets.

The public API other stages use::

    records = load_records([Path("train.jsonl")])             # DataInvalid (exit 2) lists every problem
    result = check_dataset(project, [Path("train.jsonl")])     # result.gate_passed, .findings, .report
    result = check_data(project)        # `data check`: data.train by default, report stored, version registered
    info = register_dataset_version(project, records, name=..., source_files=..., stats=...)
    findings = detect_pii("mail me at jo@example.com")

CLI: ``tuneloop data check|convert|dedup|redact|split|list|show|formats`` (see ``docs/data.md``); each
verb calls one function of :mod:`tuneloop.data.workflow` (``check_data``, ``convert_files``,
``dedup_files``, ``redact_files``, ``split_file``, ``describe_version``) that does its whole job.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> module: resolved on first use, so `tuneloop --help` does not import numpy and friends.
_EXPORTS = {
    "DataCheckResult": "tuneloop.data.check",
    "check_dataset": "tuneloop.data.check",
    "holdout_contamination": "tuneloop.data.contamination",
    "CONVERTERS": "tuneloop.data.convert",
    "convert_record": "tuneloop.data.convert",
    "DuplicateReport": "tuneloop.data.dedup",
    "find_duplicates": "tuneloop.data.dedup",
    "Finding": "tuneloop.findings",
    "FORMATS": "tuneloop.data.formats",
    "LoadedDataset": "tuneloop.data.load",
    "load_dataset": "tuneloop.data.load",
    "load_records": "tuneloop.data.load",
    "PiiFinding": "tuneloop.data.pii",
    "detect_pii": "tuneloop.data.pii",
    "PROBLEM_CODES": "tuneloop.data.problems",
    "DataInvalid": "tuneloop.data.problems",
    "Problem": "tuneloop.data.problems",
    "Conversation": "tuneloop.data.records",
    "Message": "tuneloop.data.records",
    "Preference": "tuneloop.data.records",
    "Record": "tuneloop.data.records",
    "SourceRef": "tuneloop.data.records",
    "TextDocument": "tuneloop.data.records",
    "dataset_digest": "tuneloop.data.records",
    "record_digest": "tuneloop.data.records",
    "detect_secrets": "tuneloop.data.secrets",
    "SplitResult": "tuneloop.data.split",
    "split_dataset": "tuneloop.data.split",
    "assistant_token_mask": "tuneloop.data.template",
    "tokenize_example": "tuneloop.data.template",
    "DatasetVersionInfo": "tuneloop.data.versions",
    "get_dataset_version": "tuneloop.data.versions",
    "list_dataset_versions": "tuneloop.data.versions",
    "load_dataset_version_records": "tuneloop.data.versions",
    "register_dataset_version": "tuneloop.data.versions",
    "check_data": "tuneloop.data.workflow",
    "convert_files": "tuneloop.data.workflow",
    "dedup_files": "tuneloop.data.workflow",
    "describe_version": "tuneloop.data.workflow",
    "redact_files": "tuneloop.data.workflow",
    "split_file": "tuneloop.data.workflow",
}

if TYPE_CHECKING:
    from tuneloop.data.check import DataCheckResult, check_dataset
    from tuneloop.data.contamination import holdout_contamination
    from tuneloop.data.convert import CONVERTERS, convert_record
    from tuneloop.data.dedup import DuplicateReport, find_duplicates
    from tuneloop.data.formats import FORMATS
    from tuneloop.data.load import LoadedDataset, load_dataset, load_records
    from tuneloop.data.pii import PiiFinding, detect_pii
    from tuneloop.data.problems import PROBLEM_CODES, DataInvalid, Problem
    from tuneloop.data.records import (
        Conversation,
        Message,
        Preference,
        Record,
        SourceRef,
        TextDocument,
        dataset_digest,
        record_digest,
    )
    from tuneloop.data.secrets import detect_secrets
    from tuneloop.data.split import SplitResult, split_dataset
    from tuneloop.data.template import assistant_token_mask, tokenize_example
    from tuneloop.data.versions import (
        DatasetVersionInfo,
        get_dataset_version,
        list_dataset_versions,
        load_dataset_version_records,
        register_dataset_version,
    )
    from tuneloop.data.workflow import (
        check_data,
        convert_files,
        dedup_files,
        describe_version,
        redact_files,
        split_file,
    )
    from tuneloop.findings import Finding


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tuneloop.data' has no attribute {name!r}")


__all__ = [
    "CONVERTERS",
    "FORMATS",
    "PROBLEM_CODES",
    "Conversation",
    "DataCheckResult",
    "DataInvalid",
    "DatasetVersionInfo",
    "DuplicateReport",
    "Finding",
    "LoadedDataset",
    "Message",
    "PiiFinding",
    "Preference",
    "Problem",
    "Record",
    "SourceRef",
    "SplitResult",
    "TextDocument",
    "assistant_token_mask",
    "check_data",
    "check_dataset",
    "convert_files",
    "convert_record",
    "dataset_digest",
    "dedup_files",
    "describe_version",
    "detect_pii",
    "detect_secrets",
    "find_duplicates",
    "get_dataset_version",
    "holdout_contamination",
    "list_dataset_versions",
    "load_dataset",
    "load_dataset_version_records",
    "load_records",
    "record_digest",
    "redact_files",
    "register_dataset_version",
    "split_dataset",
    "split_file",
    "tokenize_example",
]
