"""Resumable checkpoints: trainable weights, optimizer, scheduler, RNG states and data position.

A checkpoint is a directory ``checkpoints/step-00000120``. It is written under a temporary name and
renamed into place only when complete, so a crash (or ``kill -9``) mid-write leaves the previous
checkpoint intact and no half-written one that resume could pick up. Only the newest
``keep_checkpoints`` are kept.

Only what training changes is saved: for adapters, the adapter weights (megabytes, not the whole
model). The data position is the optimizer step: the batch plan is a pure function of the data and
the seed (see ``batching``), so resume recomputes it and checks its digest. Under FSDP or DeepSpeed,
whose weights and optimizer states are sharded, accelerate's ``save_state``/``load_state`` write and
read the shards.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneloop.errors import InvalidInput, Location
from tuneloop.store import atomic_write_text

STEP_DIR = re.compile(r"^step-(\d{8})$")
STATE_FILE = "state.json"


@dataclass
class CheckpointState:
    """What a checkpoint says about where training stands."""

    step: int
    plan_digest: str
    tokens_seen: int
    loss_tokens_seen: int
    elapsed_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints (those with a state file), oldest first."""
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and STEP_DIR.match(p.name) and (p / STATE_FILE).is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(root: Path) -> Path | None:
    checkpoints = list_checkpoints(root)
    return checkpoints[-1] if checkpoints else None


def _sharded(accelerator: Any) -> bool:
    kind = str(getattr(accelerator, "distributed_type", "")).upper()
    return "FSDP" in kind or "DEEPSPEED" in kind


def save_checkpoint(
    root: Path,
    state: CheckpointState,
    *,
    accelerator: Any,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    keep: int,
) -> Path:
    """Write a checkpoint atomically (every process takes part; the main one renames it)."""
    import torch

    final = root / step_dir_name(state.step)
    staging = root / f".{final.name}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    accelerator.wait_for_everyone()
    if _sharded(accelerator):
        accelerator.save_state(str(staging / "accelerate"))
    elif accelerator.is_main_process:
        _save_trainable(accelerator.unwrap_model(model), staging / "trainable.safetensors")
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(scheduler.state_dict(), staging / "scheduler.pt")
    torch.save(_rng_state(), staging / f"rng-{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for written in staging.rglob("*"):
            if written.is_file():
                _fsync(written)  # torch.save does not: make the files durable before the rename
        atomic_write_text(staging / STATE_FILE, json.dumps(state.to_dict(), indent=2))
        _fsync_dir(staging)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        _fsync_dir(root)
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(
    directory: Path, *, accelerator: Any, model: Any, optimizer: Any, scheduler: Any, plan_digest: str
) -> CheckpointState:
    """Restore a checkpoint into the prepared model, optimizer and scheduler."""
    import torch

    state = CheckpointState(**json.loads((directory / STATE_FILE).read_text()))
    if state.plan_digest != plan_digest:
        raise InvalidInput(
            "resume_mismatch",
            f"{directory} was written for a different batch plan (data, seed or batch settings "
            "changed); resume with the same data and config, or start a new run",
            Location(str(directory)),
        )
    if _sharded(accelerator):
        accelerator.load_state(str(directory / "accelerate"))
    else:
        _load_trainable(accelerator.unwrap_model(model), directory / "trainable.safetensors")
        optimizer.load_state_dict(torch.load(directory / "optimizer.pt", weights_only=False))
        scheduler.load_state_dict(torch.load(directory / "scheduler.pt", weights_only=False))
    rng_file = directory / f"rng-{accelerator.process_index}.pt"
    if rng_file.is_file():
        _set_rng_state(torch.load(rng_file, weights_only=False))
    return state


def _save_trainable(model: Any, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {
        name: parameter.detach().to("cpu").contiguous()
        for name, parameter in model.named_parameters()
        if parameter.requires_grad
    }
    save_file(tensors, str(path))


def _load_trainable(model: Any, path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    saved = load_file(str(path))
    parameters = dict(model.named_parameters())
    missing = [name for name, p in parameters.items() if p.requires_grad and name not in saved]
    if missing:
        raise InvalidInput(
            "resume_mismatch",
            f"checkpoint {path.parent} lacks {len(missing)} trainable weights (e.g. {missing[0]}); the "
            "adapter or model settings changed since it was written",
            Location(str(path.parent)),
        )
    with torch.no_grad():
        for name, tensor in saved.items():
            parameters[name].copy_(tensor.to(parameters[name].device))


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the directory entry (POSIX); a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
