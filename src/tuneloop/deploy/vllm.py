"""``tuneloop deploy vllm NAME@alias -o DIR``: what a vLLM fleet needs to serve the registry's versions.

Aliases move, vLLM's names must not, so every version is exported under an immutable name,
``<name>-v<N>``, and ``aliases.json`` maps each alias to one. A ``tuneloop serve --upstream URL`` router
resolves aliases itself and asks vLLM for the immutable name: a promote or rollback between exported
versions needs no change on the fleet. Exported: the version behind every alias of NAME and each
alias's previous target (a rollback needs no new export); adapters to ``adapters/<name>-v<N>/``
(safetensors and ``adapter_config.json`` only), full weights to ``models/<name>-v<N>/`` with their own
``vllm serve``. The directory is written aside and renamed into place.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tuneloop.errors import InvalidInput, NotFound
from tuneloop.models import get_entry, resolve_model
from tuneloop.progress import SILENT, Progress
from tuneloop.project import Project
from tuneloop.refs import parse_model_ref
from tuneloop.registry import ModelVersionInfo, alias_history, get_model_version_by_id, list_aliases
from tuneloop.serve.upstream import vllm_base_name, vllm_model_name

FORMAT = "tuneloop-vllm-deployment"
"""``aliases.json``'s ``format``: how a previous deployment (which may be replaced) is recognised."""
LORA_RANKS = (8, 16, 32, 64, 128, 256)
"""The values vLLM accepts for ``--max-lora-rank``."""
WEIGHT_SUFFIXES = (".safetensors", ".json", ".txt", ".model", ".jinja")
"""Files a full-weight export copies: weights as safetensors, config and tokenizer files."""
FIRST_PORT = 8000


@dataclass(frozen=True)
class ExportedVersion:
    reference: str  # the registered version, support:3
    served_name: str  # its immutable name on the fleet, support-v3
    kind: str  # adapter or full
    path: str  # where it was exported, relative to the deployment directory
    base_reference: str
    base_weights_sha256: str
    lora_rank: int | None
    aliases: tuple[str, ...]  # the aliases pointing at it now (none for a kept rollback target)
    script: str  # the serve script that serves it


@dataclass(frozen=True)
class VllmServer:
    """One ``vllm serve`` process: a base with its adapters, or one full-weight version."""

    script: str
    port: int
    model: str
    """What ``vllm serve`` loads (a hub id or a path; ``BASE_MODEL`` overrides it for a base)."""
    served_name: str
    adapters: tuple[str, ...]
    max_lora_rank: int | None
    max_loras: int | None
    command: str


@dataclass(frozen=True)
class VllmDeployment:
    out_dir: Path
    requested: str
    name: str
    aliases: dict[str, str]  # alias -> served name
    versions: list[ExportedVersion]
    servers: list[VllmServer]
    replaced: bool  # a previous deployment in out_dir was replaced

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "out_dir": str(self.out_dir)}


def deploy_vllm(
    project: Project, reference: str, out_dir: Path, *, progress: Progress = SILENT
) -> VllmDeployment:
    """Export ``NAME@alias`` and NAME's other aliases for vLLM into ``out_dir`` (see the module doc)."""
    ref = parse_model_ref(reference)
    if ref.kind != "alias" or ref.alias is None:
        raise InvalidInput("not_an_alias", f"'{reference}' is not NAME@alias; deploy vllm exports an alias")
    out_dir = out_dir.expanduser().resolve()
    replacing = _check_out_dir(out_dir)
    pointers = _aliases_of(project, ref.name)
    if ref.alias not in pointers:
        raise NotFound("unknown_alias", f"no alias '{reference}'; promote a version to it first")
    versions = _versions_to_export(project, ref.name, pointers)
    by_version: dict[int, list[str]] = {}
    for alias, version_id in sorted(pointers.items()):
        by_version.setdefault(version_id, []).append(alias)
    primary = pointers[ref.alias]
    ordered = sorted(versions.values(), key=lambda v: (v.id != primary, v.version))

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    try:
        exported = _export_all(project, ordered, staging, progress)
        servers, scripts = _plan_servers(ordered, exported, primary)
        records = [_record(info, exported[info.id], by_version, scripts) for info in ordered]
        alias_map = {
            alias: vllm_model_name(ref.name, versions[vid].version) for alias, vid in sorted(pointers.items())
        }
        deployment = VllmDeployment(out_dir, reference, ref.name, alias_map, records, servers, replacing)
        _write_files(staging, deployment, versions, pointers)
        _publish(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    progress.info(f"wrote {len(records)} versions and {len(servers)} serve scripts to {out_dir}")
    return deployment


def _record(
    info: ModelVersionInfo,
    exported: tuple[str, int | None],
    by_version: dict[int, list[str]],
    scripts: dict[int, str],
) -> ExportedVersion:
    return ExportedVersion(
        reference=info.reference,
        served_name=vllm_model_name(info.name, info.version),
        kind=info.kind,
        path=exported[0],
        base_reference=info.base_reference,
        base_weights_sha256=info.base_weights_sha256,
        lora_rank=exported[1],
        aliases=tuple(by_version.get(info.id, ())),
        script=scripts[info.id],
    )


def _check_out_dir(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds a previous deployment (to be replaced); refuses anything else."""
    if not out_dir.exists():
        return False
    if not out_dir.is_dir():
        raise InvalidInput("out_dir_not_a_directory", f"--out {out_dir} exists and is not a directory")
    if not any(out_dir.iterdir()):
        return False
    try:
        previous = json.loads((out_dir / "aliases.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        previous = None
    if not isinstance(previous, dict) or previous.get("format") != FORMAT:
        raise InvalidInput(
            "out_dir_not_empty",
            f"--out {out_dir} is not empty and holds no previous vLLM deployment; choose an empty directory",
        )
    return True


def _aliases_of(project: Project, name: str) -> dict[str, int]:
    """alias -> version id, for every alias of ``name``."""
    return {
        state.alias: state.model_version_id for state in list_aliases(project, name) if state.model_version_id
    }


def _versions_to_export(project: Project, name: str, pointers: dict[str, int]) -> dict[int, ModelVersionInfo]:
    """The versions behind the aliases, plus each alias's previous target (its rollback target)."""
    wanted = set(pointers.values())
    last_move: dict[str, int | None] = {}
    for event in alias_history(project, name):
        last_move[event.alias] = event.previous_version_id
    wanted |= {vid for alias, vid in last_move.items() if alias in pointers and vid is not None}
    return {vid: get_model_version_by_id(project, vid) for vid in sorted(wanted)}


def _export_all(
    project: Project, versions: list[ModelVersionInfo], staging: Path, progress: Progress
) -> dict[int, tuple[str, int | None]]:
    """Copy every version's weights; version id -> (relative path, LoRA rank or None)."""
    exported: dict[int, tuple[str, int | None]] = {}
    with progress.task("exporting versions", total=len(versions)) as task:
        for info in versions:
            resolved = resolve_model(info.reference, project, progress=progress)
            served = vllm_model_name(info.name, info.version)
            if resolved.adapter_path is not None:
                relative = f"adapters/{served}"
                rank: int | None = _copy_adapter(info, resolved.adapter_path, staging / relative)
            else:
                relative = f"models/{served}"
                rank = None
                _copy_full_weights(info, resolved.base_path, staging / relative)
            exported[info.id] = (relative, rank)
            task.advance(status=served)
    return exported


def _copy_adapter(info: ModelVersionInfo, source: Path, target: Path) -> int:
    config_file = source / "adapter_config.json"
    weights = sorted(source.glob("*.safetensors"))
    if not config_file.is_file() or not weights:
        raise NotFound(
            "adapter_not_exportable",
            f"{info.reference}'s adapter ({source}) lacks adapter_config.json or safetensors weights",
        )
    target.mkdir(parents=True)
    for file in [config_file, *weights]:
        shutil.copy2(file, target / file.name)
    return adapter_rank(json.loads(config_file.read_text(encoding="utf-8")))


def _copy_full_weights(info: ModelVersionInfo, source: Path, target: Path) -> None:
    files = [f for f in sorted(source.iterdir()) if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES)]
    if not any(f.name.endswith(".safetensors") for f in files):
        raise NotFound("weights_not_exportable", f"{info.reference} ({source}) has no safetensors weights")
    target.mkdir(parents=True)
    for file in files:
        shutil.copy2(file, target / file.name)


def adapter_rank(config: dict[str, Any]) -> int:
    """The largest LoRA rank an adapter uses (``r``, or a larger per-module ``rank_pattern`` value)."""
    ranks = [int(config.get("r") or 0), *(int(r) for r in (config.get("rank_pattern") or {}).values())]
    return max(ranks)


def max_lora_rank(ranks: list[int]) -> int:
    """``--max-lora-rank``: the largest rank rounded up to a value vLLM accepts."""
    largest = max(ranks)
    for allowed in LORA_RANKS:
        if largest <= allowed:
            return allowed
    raise InvalidInput(
        "lora_rank_too_large", f"an adapter has rank {largest}; vLLM serves LoRA ranks up to {LORA_RANKS[-1]}"
    )


def _plan_servers(
    versions: list[ModelVersionInfo], exported: dict[int, tuple[str, int | None]], primary: int
) -> tuple[list[VllmServer], dict[int, str]]:
    """One server per base model (with its adapters) and one per full-weight version; the server
    of the requested alias's version is ``serve.sh``. Returns the servers and version id -> script."""
    groups: dict[tuple[str, str], list[ModelVersionInfo]] = {}
    singles: list[ModelVersionInfo] = []
    for info in versions:
        if exported[info.id][1] is None:
            singles.append(info)
        else:
            groups.setdefault((info.base_reference, info.base_weights_sha256), []).append(info)
    units: list[list[ModelVersionInfo]] = [*groups.values(), *([s] for s in singles)]
    units.sort(key=lambda unit: all(info.id != primary for info in unit))
    servers, scripts = [], {}
    for index, unit in enumerate(units):
        script = "serve.sh" if index == 0 else f"serve-{index + 1}.sh"
        server = _server(unit, exported, script, FIRST_PORT + index)
        servers.append(server)
        scripts.update({info.id: script for info in unit})
    return servers, scripts


def _server(
    unit: list[ModelVersionInfo], exported: dict[int, tuple[str, int | None]], script: str, port: int
) -> VllmServer:
    first = unit[0]
    if exported[first.id][1] is None:
        served = vllm_model_name(first.name, first.version)
        model = f"$HERE/{exported[first.id][0]}"
        command = f'vllm serve "{model}" --served-model-name {shlex.quote(served)}'
        return VllmServer(script, port, model, served, (), None, None, command)
    served = vllm_base_name(first.base_reference)
    names = [vllm_model_name(info.name, info.version) for info in unit]
    rank = max_lora_rank([exported[info.id][1] or 0 for info in unit])
    modules = " ".join(
        f'{name}="$HERE/{exported[info.id][0]}"' for name, info in zip(names, unit, strict=True)
    )
    command = (
        f'vllm serve "$BASE_MODEL" --served-model-name {shlex.quote(served)} --enable-lora --lora-modules {modules} '
        f"--max-lora-rank {rank} --max-loras {len(unit)}"
    )
    return VllmServer(script, port, _base_model(first), served, tuple(names), rank, len(unit), command)


def _base_model(info: ModelVersionInfo) -> str:
    """What vLLM loads as the base: the hub repository of a catalog model, else the reference as is."""
    try:
        ref = parse_model_ref(info.base_reference)
    except InvalidInput:  # a directory of another machine: vLLM's host must have it at that path
        return info.base_reference
    if ref.kind == "base":
        return get_entry(ref.name).hf_repo
    return ref.name if ref.kind in ("hub", "path") else info.base_reference


def _write_files(
    staging: Path, deployment: VllmDeployment, versions: dict[int, ModelVersionInfo], pointers: dict[str, int]
) -> None:
    for server in deployment.servers:
        path = staging / server.script
        path.write_text(_script_text(deployment, server), encoding="utf-8")
        path.chmod(0o755)
    aliases = {
        alias: {
            "model": deployment.aliases[alias],
            "reference": versions[vid].reference,
            "version": versions[vid].version,
            "kind": versions[vid].kind,
            "base": versions[vid].base_reference,
            "base_weights_sha256": versions[vid].base_weights_sha256,
        }
        for alias, vid in sorted(pointers.items())
    }
    document = {"format": FORMAT, "format_version": 1, **deployment.to_dict(), "aliases": aliases}
    document.pop("out_dir")
    document.pop("replaced")
    (staging / "aliases.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (staging / "README.md").write_text(_readme_text(deployment), encoding="utf-8")


def _script_text(deployment: VllmDeployment, server: VllmServer) -> str:
    serves = ", ".join(server.adapters or (server.served_name,))
    lines = [
        "#!/usr/bin/env bash",
        f"# Written by `tuneloop deploy vllm {deployment.requested}`: serves {serves}.",
        "# Extra vllm options go after the script's name; HOST and PORT set where it listens.",
        "set -euo pipefail",
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
    ]
    if server.adapters:
        lines += [
            f"DEFAULT_BASE_MODEL={shlex.quote(server.model)}",
            'BASE_MODEL="${BASE_MODEL:-$DEFAULT_BASE_MODEL}"',
        ]
    lines.append(f'exec {server.command} --host "${{HOST:-0.0.0.0}}" --port "${{PORT:-{server.port}}}" "$@"')
    return "\n".join(lines) + "\n"


def _readme_text(deployment: VllmDeployment) -> str:
    rows = "\n".join(
        f"| `{v.served_name}` | {v.reference} | {', '.join(v.aliases) or '(rollback target)'} | {v.kind} "
        f"| `{v.path}` | {v.script} |"
        for v in deployment.versions
    )
    full = [v.script for v in deployment.versions if v.kind == "full"]
    main = deployment.servers[0]
    notes = [
        f"`BASE_MODEL` (default `{s.model}`) is the base of `{s.script}`: point it at a local copy of the "
        "same weights (sha256 in `aliases.json`) where the hub is out of reach."
        for s in deployment.servers
        if s.adapters
    ]
    if full:
        notes.append(
            f"Full-weight versions share no base: each is its own model ({', '.join(full)}, own port)."
        )
    return f"""# vLLM deployment of `{deployment.requested}`

Written by `tuneloop deploy vllm {deployment.requested}`. Every version is served under an immutable
name; aliases move in tuneloop's registry, never on the fleet.

| served as | version | aliases | kind | files | script |
|---|---|---|---|---|---|
{rows}

## Run it

    pip install vllm   # on the GPU machine
    ./serve.sh         # port {main.port}; PORT=9000 ./serve.sh to change it; extra vllm options go after it

which runs (`$HERE` is this directory)

    {main.command}

`--max-lora-rank` is the largest adapter rank rounded up to a value vLLM accepts, `--max-loras` the
number of adapters (all stay resident).
{"".join(chr(10) + note + chr(10) for note in notes)}
## Route through tuneloop

    tuneloop serve --upstream http://GPU-HOST:{main.port}

The router keeps aliases, API keys, canary splits and the request log, and asks vLLM for the immutable
name of the version an alias points at when the request arrives: a promote or rollback between the
versions exported here needs no change on the fleet. After promoting a version not exported here, run
`tuneloop deploy vllm {deployment.requested} -o <this directory>` again (it replaces this directory)
and restart the servers.
"""


def _publish(staging: Path, out_dir: Path) -> None:
    """Move the finished deployment into place; a previous one is swapped out and then removed."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
    out_dir.rename(old)
    try:
        staging.rename(out_dir)
    except OSError:
        old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
