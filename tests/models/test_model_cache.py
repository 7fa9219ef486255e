"""The user-level cache of converted base models: one entry per source hash, shared by projects, built
once under concurrent first use; conversions report through tuneloop's Progress, never a tqdm bar.

The real bundled model is never converted here: a fake converter (counting its calls) or a tiny GGUF
written with the ``gguf`` package stands in for it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tuneloop.models.bundled as bundled
from tuneloop.models.model_cache import cached_entry, source_sha256
from tuneloop.progress import RecordingProgress, Task

TQDM_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+|it/s\]|s/it\]")
"""What a tqdm bar looks like on stderr (``Loading weights:  50%|█████     | 10/20 [..., 3.2it/s]``)."""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user model cache (``TUNELOOP_MODEL_CACHE``)."""
    root = tmp_path / "user-cache"
    monkeypatch.setenv("TUNELOOP_MODEL_CACHE", str(root))
    return root


@pytest.fixture
def fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in source file in place of the bundled GGUF."""
    path = tmp_path / "source" / bundled.BUNDLED_GGUF
    path.parent.mkdir()
    path.write_bytes(b"GGUF not really" * 100)
    monkeypatch.setattr(bundled, "bundled_gguf_path", lambda: path)
    return path


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> list[Path]:
    """Replaces the GGUF conversion by a copy of the tiny model; lists every conversion made."""
    made: list[Path] = []

    def convert(gguf: Path, target: Path, task: Task) -> None:
        made.append(target)
        for path in tiny_model_dir.iterdir():
            shutil.copy2(path, target / path.name)

    monkeypatch.setattr(bundled, "convert_gguf", convert)
    return made


def test_a_second_project_reuses_the_entry(
    cli, tmp_path: Path, cache: Path, fake_gguf: Path, conversions: list[Path]
) -> None:
    from tuneloop.project import Project, init_project
    from tuneloop.store import BaseModelRecord

    pulled = []
    for name in ("first", "second"):
        root = init_project(tmp_path / name).root
        result = cli("models", "pull", "--json", cwd=root)
        assert result.exit_code == 0, result.stderr
        pulled.append(json.loads(result.stdout))
        with Project.open(root).store.session() as session:
            record = session.query(BaseModelRecord).one()
            assert record.weights_sha256 == pulled[-1]["weights_sha256"]
        assert not (root / ".tuneloop" / "cache" / "models").exists()
    assert len(conversions) == 1
    assert pulled[0]["path"] == pulled[1]["path"]
    entry = Path(pulled[0]["path"])
    assert entry.parent == cache and entry.name.startswith(bundled.BUNDLED_CATALOG_ID + "-")
    manifest = bundled.read_manifest(entry)
    assert manifest is not None and manifest["gguf_sha256"] == source_sha256(fake_gguf, cache)
    assert manifest["weights_sha256"] == pulled[0]["weights_sha256"] == bundled.weights_sha256(entry)


def test_a_new_source_gets_its_own_entry(cache: Path, fake_gguf: Path, conversions: list[Path]) -> None:
    first = bundled.bundled_model_dir()
    fake_gguf.write_bytes(b"a newer release of the package")
    second = bundled.bundled_model_dir()
    assert first != second and first.is_dir() and len(conversions) == 2
    assert bundled.bundled_model_dir() == second and len(conversions) == 2


def test_an_earlier_conversion_is_adopted_not_redone(
    tmp_path: Path, cache: Path, fake_gguf: Path, conversions: list[Path], tiny_model_dir: Path
) -> None:
    legacy = tmp_path / "old-project" / ".tuneloop" / "cache" / "models" / bundled.BUNDLED_CATALOG_ID
    shutil.copytree(tiny_model_dir, legacy)
    manifest = {
        "gguf_sha256": source_sha256(fake_gguf, cache),
        "weights_sha256": bundled.weights_sha256(legacy),
    }
    (legacy / bundled.MANIFEST).write_text(json.dumps(manifest))
    progress = RecordingProgress()
    entry = bundled.bundled_model_dir(adopt=[legacy], progress=progress)
    assert conversions == [] and bundled.weights_sha256(entry) == manifest["weights_sha256"]
    assert any("reusing" in text for _, text in progress.messages)


def test_a_damaged_earlier_conversion_is_converted_again(
    tmp_path: Path, cache: Path, fake_gguf: Path, conversions: list[Path], tiny_model_dir: Path
) -> None:
    legacy = cache / bundled.BUNDLED_CATALOG_ID  # the shared cache's layout before the hash key
    shutil.copytree(tiny_model_dir, legacy)
    manifest = {"gguf_sha256": source_sha256(fake_gguf, cache), "weights_sha256": "0" * 64}
    (legacy / bundled.MANIFEST).write_text(json.dumps(manifest))
    entry = bundled.bundled_model_dir()
    assert len(conversions) == 1 and bundled.read_manifest(entry)["weights_sha256"] != "0" * 64


def test_the_source_is_hashed_once_per_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tuneloop.models.model_cache as model_cache

    source = tmp_path / "weights.bin"
    source.write_bytes(b"one")
    hashed: list[Path] = []
    real = model_cache.sha256_file
    monkeypatch.setattr(model_cache, "sha256_file", lambda path: hashed.append(path) or real(path))
    first = source_sha256(source, tmp_path / "cache")
    assert source_sha256(source, tmp_path / "cache") == first and len(hashed) == 1
    source.write_bytes(b"two, longer")
    assert source_sha256(source, tmp_path / "cache") != first and len(hashed) == 2


def test_a_failed_build_leaves_nothing_and_leftovers_are_cleared(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    leftover = root / ".entry.abc123.tmp"
    leftover.mkdir(parents=True)

    def failing(tmp: Path) -> None:
        (tmp / "half-written").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        cached_entry(root, "entry", is_complete=lambda p: (p / "done").exists(), build=failing)
    assert sorted(p.name for p in root.iterdir()) == [".entry.lock"]


CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    import tuneloop.models.bundled as bundled
    from tuneloop.progress import RecordingProgress

    source, log, barrier = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

    def slow_convert(gguf, target, task):
        with log.open("a") as handle:
            handle.write(f"{os.getpid()}\\n")
        time.sleep(3)  # long enough for the other process to find the entry locked
        (target / "config.json").write_text("{}")
        (target / "model.safetensors").write_bytes(b"weights of " + gguf.read_bytes())

    bundled.bundled_gguf_path = lambda: source
    bundled.convert_gguf = slow_convert
    (barrier / str(os.getpid())).touch()
    while len(list(barrier.iterdir())) < 2:  # both processes start converting together
        time.sleep(0.01)
    progress = RecordingProgress()
    entry = bundled.bundled_model_dir(progress=progress)
    print(json.dumps({
        "entry": str(entry),
        "weights": (entry / "model.safetensors").read_text(),
        "sha": bundled.weights_sha256(entry),
        "messages": [text for _, text in progress.messages],
    }))
    """
)


def test_two_processes_converting_at_once_make_one_entry(tmp_path: Path) -> None:
    source = tmp_path / "source.gguf"
    source.write_bytes(b"GGUF stand-in")
    log, barrier, cache = tmp_path / "conversions.log", tmp_path / "barrier", tmp_path / "cache"
    barrier.mkdir()
    env = dict(os.environ, TUNELOOP_MODEL_CACHE=str(cache))
    args = [sys.executable, "-c", CONCURRENT_SCRIPT, str(source), str(log), str(barrier)]
    workers = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(json.loads(out))
    assert len(log.read_text().splitlines()) == 1  # one conversion
    assert outputs[0]["entry"] == outputs[1]["entry"]
    assert outputs[0]["weights"] == outputs[1]["weights"] == "weights of GGUF stand-in"
    assert outputs[0]["sha"] == outputs[1]["sha"]
    entries = [p.name for p in cache.iterdir() if not p.name.startswith(".")]
    assert entries == [Path(outputs[0]["entry"]).name]
    assert not list(cache.glob(".*.tmp"))
    waited = [o for o in outputs if any("another tuneloop process" in m for m in o["messages"])]
    assert len(waited) == 1  # the other one was told why it waits


def write_tiny_gguf(path: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4, ffn: int = 64) -> Path:
    """A random 2-layer Llama with a byte-level BPE tokenizer, as an F32 GGUF file (~100 KB)."""
    import gguf

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens = [*specials, *_byte_symbols(), "Ġt", "he"]
    kv_heads, head_dim = heads // 2, hidden // heads
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(layers)
    writer.add_context_length(256)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_rope_dimension_count(head_dim)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(specials) + [1] * (len(tokens) - len(specials)))
    writer.add_token_merges(["Ġ t", "h e"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    writer.add_chat_template(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    rng = np.random.default_rng(0)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer.add_tensor("token_embd.weight", weights(len(tokens), hidden))
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(hidden, np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(hidden, np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weights(hidden, hidden))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weights(kv_heads * head_dim, hidden))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weights(kv_heads * head_dim, hidden))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weights(hidden, hidden))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weights(ffn, hidden))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weights(ffn, hidden))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weights(hidden, ffn))
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values (the base vocabulary of byte-level BPE)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + n) for n in range(len(others))]


CLI_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import tuneloop.models.bundled as bundled
    from tuneloop.cli import main

    source = Path(sys.argv[1])
    bundled.bundled_gguf_path = lambda: source
    sys.argv = ["tuneloop", *sys.argv[2:]]
    main()
    """
)


def test_conversion_and_load_through_the_cli_draw_no_third_party_bars(tmp_path: Path) -> None:
    """A first chat in a new place, as a user runs it: the (tiny) GGUF is converted and the result
    loaded in one process, where transformers draws "Converting and de-quantizing GGUF tensors",
    "Loading weights" and "Writing model shards" bars unless tuneloop silences them."""
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf")
    cache = tmp_path / "cache"
    env = dict(os.environ, TUNELOOP_MODEL_CACHE=str(cache), HF_HUB_OFFLINE="1")
    env.pop("TQDM_DISABLE", None)
    command = [sys.executable, "-c", CLI_SCRIPT, str(gguf)]
    command += ["chat", "base:smollm2-135m-instruct", "the", "--max-new-tokens", "2"]
    chat = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert chat.returncode == 0, chat.stderr
    (entry,) = [p for p in cache.iterdir() if p.name.startswith(bundled.BUNDLED_CATALOG_ID)]
    assert (entry / "model.safetensors").is_file() and (entry / "tokenizer.json").is_file()
    assert not TQDM_BAR.search(chat.stderr), chat.stderr
    assert "Converting and de-quantizing" not in chat.stderr and "Loading weights" not in chat.stderr


def test_the_gguf_tensor_bar_becomes_a_progress_task(tmp_path: Path) -> None:
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf")
    progress = RecordingProgress()
    target = tmp_path / "converted"
    target.mkdir()
    with progress.task("converting") as task:
        bundled.convert_gguf(gguf, target, task)
    (recorded,) = progress.tasks
    assert recorded.total == recorded.completed == 2 * 9 + 2  # every tensor counted, none twice
    from transformers import AutoModelForCausalLM, modeling_gguf_pytorch_utils

    assert modeling_gguf_pytorch_utils.tqdm.__module__.startswith("tqdm")  # restored afterwards
    assert AutoModelForCausalLM.from_pretrained(target).config.num_hidden_layers == 2
