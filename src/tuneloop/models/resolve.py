"""The one resolver: a model reference becomes local files, base weights plus (for fine-tuned
versions) an adapter.

Base models are made local once ("pulled"): the bundled model is converted from GGUF once per machine
into the user's model cache (shared by every project), a catalog or hub model is taken from the local
Hugging Face cache (or downloaded when the network allows), a directory is used in place. Registered
versions (``name:3``, ``name@production``) are looked up in the registry, which returns plain
records; this module turns them into weights, pulling their base model if needed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from tuneloop.errors import InvalidInput, NotFound
from tuneloop.models.bundled import BUNDLED_CATALOG_ID, bundled_model_dir, read_manifest, weights_sha256
from tuneloop.models.cost import count_parameters
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project, legacy_model_cache_dir
from tuneloop.refs import ModelRef, parse_model_ref
from tuneloop.registry import ModelVersionInfo, get_model_version
from tuneloop.store import BaseModelRecord, sha256_bytes


@dataclass
class ResolvedModel:
    """Everything needed to load a model, plus what lineage records about it."""

    reference: str
    base_path: Path
    """Directory with the base model's config, tokenizer and safetensors weights."""
    base_weights_sha256: str
    catalog_id: str | None = None
    adapter_path: Path | None = None
    """PEFT adapter directory for a fine-tuned version, else None."""
    merged_weights: bool = False
    """True when ``base_path`` already holds fully fine-tuned weights (full fine-tuning)."""
    source: str = "local-dir"
    label: str = ""
    """Short name shown in tables and reports."""
    lineage: dict[str, str] = field(default_factory=dict)
    """For a registered version: its reference (``version``) and artifact hash (``artifact``)."""

    @property
    def identity(self) -> str:
        """A hash naming exactly these weights (base and adapter): the key of generation caches."""
        parts = [
            self.base_weights_sha256,
            str(self.adapter_path or ""),
            json.dumps(self.lineage, sort_keys=True),
        ]
        return sha256_bytes("|".join(parts).encode())[:16]


def resolve_model(
    reference: str, project: Project | None = None, *, progress: Progress = SILENT
) -> ResolvedModel:
    """Resolve ``reference`` to local files, pulling a base model if needed.

    Relative directories are read from the project root (config values are relative to it). A first
    pull of the bundled model converts it (about a minute), reported as a task of ``progress``.
    """
    ref = parse_model_ref(reference, project.root if project else None)
    if ref.kind in ("version", "alias"):
        if project is None:
            raise NotFound("no_project", f"'{reference}' names a registered model; run inside a project")
        return _resolve_registered(project, ref, progress)
    return pull_base_model(ref, project, progress=progress)


def pull_base_model(
    reference: str | ModelRef, project: Project | None, *, progress: Progress = SILENT
) -> ResolvedModel:
    """Make a base model available locally and record it in the project's store (if any).

    A string is parsed relative to the current directory (``tuneloop models pull ./dir``).
    """
    ref = reference if isinstance(reference, ModelRef) else parse_model_ref(reference)
    if ref.kind == "base":
        resolved = _pull_catalog_model(ref, project, progress)
    elif ref.kind == "path":
        resolved = _local_dir(ref, Path(ref.name))
    elif ref.kind == "hub":
        resolved = _from_hub(ref, ref.name, catalog_id=None)
    else:
        raise InvalidInput(
            "not_a_base_model",
            f"'{ref.raw}' is a registered version, not a base model: it needs no pull, use it directly",
        )
    if project is not None:
        _record_pull(project, resolved)
    return resolved


def _resolve_registered(project: Project, ref: ModelRef, progress: Progress) -> ResolvedModel:
    """Local files of a registered version: its base model plus its adapter, or its full weights."""
    info = get_model_version(project, ref)
    artifact = _artifact_dir(project, info)
    lineage = {"version": info.reference, "artifact": info.artifact_sha256}
    if info.kind == "full":
        return ResolvedModel(
            reference=ref.raw,
            base_path=artifact,
            base_weights_sha256=info.base_weights_sha256,
            merged_weights=True,
            source="registry",
            label=info.reference,
            lineage=lineage,
        )
    base = pull_base_model(parse_model_ref(info.base_reference, project.root), project, progress=progress)
    return ResolvedModel(
        reference=ref.raw,
        base_path=base.base_path,
        base_weights_sha256=base.base_weights_sha256,
        catalog_id=base.catalog_id,
        adapter_path=artifact,
        source="registry",
        label=info.reference,
        lineage=lineage,
    )


def _artifact_dir(project: Project, info: ModelVersionInfo) -> Path:
    artifact = project.artifacts.tree_path(info.artifact_sha256)
    if not artifact.is_dir():
        raise NotFound(
            "artifact_missing", f"the weights of {info.reference} ({info.artifact_sha256[:12]}) are missing"
        )
    return artifact


def _pull_catalog_model(ref: ModelRef, project: Project | None, progress: Progress) -> ResolvedModel:
    from tuneloop.models.catalog import get_entry

    entry = get_entry(ref.name)
    if entry.id == BUNDLED_CATALOG_ID:
        adopt = [legacy_model_cache_dir(project) / entry.id] if project is not None else []
        target = bundled_model_dir(adopt=adopt, progress=progress)
        manifest = read_manifest(target) or {}
        return ResolvedModel(
            reference=ref.raw,
            base_path=target,
            base_weights_sha256=str(manifest.get("weights_sha256") or weights_sha256(target)),
            catalog_id=entry.id,
            source="bundled-gguf",
            label=entry.id,
        )
    return _from_hub(ref, entry.hf_repo, catalog_id=entry.id)


def _local_dir(ref: ModelRef, path: Path) -> ResolvedModel:
    if not (path / "config.json").is_file():
        raise NotFound(
            "not_a_model_dir", f"{path} has no config.json; it is not a transformers model directory"
        )
    adapter = path / "adapter_config.json"
    if adapter.is_file():
        raise NotFound(
            "adapter_dir_as_base",
            f"{path} holds a PEFT adapter, not a base model; register it or pass its base model",
        )
    return ResolvedModel(
        reference=ref.raw,
        base_path=path,
        base_weights_sha256=weights_sha256(path),
        source="local-dir",
        label=path.name,
    )


def _from_hub(ref: ModelRef, repo_id: str, catalog_id: str | None) -> ResolvedModel:
    """A hub model from the local HF cache, or downloaded when the network is allowed."""
    from huggingface_hub import snapshot_download

    try:
        local = Path(snapshot_download(repo_id, local_files_only=True))
        source = "hf-cache"
    except Exception:
        if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
            raise NotFound("model_not_available_offline", _offline_hint(repo_id, ref.raw)) from None
        try:
            local = Path(
                snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"])
            )
            source = "hf-hub"
        except Exception as exc:
            raise NotFound("model_not_available_offline", _offline_hint(repo_id, ref.raw, exc)) from None
    return ResolvedModel(
        reference=ref.raw,
        base_path=local,
        base_weights_sha256=weights_sha256(local),
        catalog_id=catalog_id,
        source=source,
        label=catalog_id or repo_id,
    )


def _offline_hint(repo_id: str, raw: str, exc: Exception | None = None) -> str:
    why = f" ({type(exc).__name__})" if exc else ""
    return (
        f"weights for '{raw}' ({repo_id}) are not in the local Hugging Face cache and cannot be downloaded"
        f"{why}. On a connected machine run `huggingface-cli download {repo_id} --local-dir DIR`, copy DIR "
        "here and use DIR as the model reference (or set model.base: DIR in tuneloop.yaml)"
    )


def chat_template_sha256(model_dir: Path) -> str | None:
    """Hash of the chat template the tokenizer will use (part of every run's lineage)."""
    config = model_dir / "tokenizer_config.json"
    template: object = None
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        template = jinja.read_text()
    elif config.is_file():
        template = json.loads(config.read_text()).get("chat_template")
    return sha256_bytes(json.dumps(template).encode()) if template else None


def _record_pull(project: Project, resolved: ResolvedModel) -> None:
    config = json.loads((resolved.base_path / "config.json").read_text())
    architecture = (config.get("architectures") or [None])[0]
    with project.store.session() as session:
        record = session.scalars(
            select(BaseModelRecord).where(BaseModelRecord.reference == resolved.reference)
        ).one_or_none()
        if record is None:
            record = BaseModelRecord(reference=resolved.reference)
            session.add(record)
        record.catalog_id = resolved.catalog_id
        record.local_path = str(resolved.base_path)
        record.weights_sha256 = resolved.base_weights_sha256
        record.source = resolved.source
        record.architecture = architecture
        record.num_parameters = count_parameters(resolved.base_path)
        record.chat_template_sha256 = chat_template_sha256(resolved.base_path)
