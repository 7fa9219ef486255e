"""The user-level cache of converted base models, one copy per machine shared by every project.

Converting the bundled GGUF to safetensors takes a minute and depends only on the source file, so an
entry is named after the source's sha256 and built once. Several processes may need the same entry
at the same time (two projects' first ``eval baseline``, a training run and a chat): a file lock per
entry lets one build it while the others wait and then reuse it. The build writes into a temporary
directory that is renamed into place, so an entry is either complete or absent, never half-written;
temporary directories left by a killed build are removed by the next builder (it holds the lock, so
no one else is writing them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from tuneloop.progress import SILENT, Progress
from tuneloop.store import atomic_write_text, sha256_bytes, sha256_file

SOURCES_DIRNAME = ".sources"


def source_sha256(path: Path, cache_root: Path) -> str:
    """sha256 of a source file, computed once per (path, size, modification time).

    The hash is remembered in ``cache_root/.sources/``, so later look-ups cost a ``stat`` instead of
    reading the whole file (the bundled GGUF is 98 MB); a changed file has a new fingerprint and is
    hashed again.
    """
    stat = path.stat()
    fingerprint = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo = cache_root / SOURCES_DIRNAME / sha256_bytes(fingerprint.encode())[:32]
    try:
        remembered = memo.read_text().strip()
    except OSError:
        remembered = ""
    if len(remembered) == 64:
        return remembered
    digest = sha256_file(path)
    atomic_write_text(memo, digest + "\n")
    return digest


def cached_entry(
    cache_root: Path,
    name: str,
    *,
    is_complete: Callable[[Path], bool],
    build: Callable[[Path], None],
    progress: Progress = SILENT,
) -> Path:
    """The entry ``cache_root/name``, built by ``build(empty_temp_dir)`` unless it is complete already.

    Safe under concurrent first use: one process builds while the others wait on the entry's lock,
    then find it complete and return it without building.
    """
    entry = cache_root / name
    if is_complete(entry):
        return entry
    cache_root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cache_root / f".{name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress.info(f"another tuneloop process is preparing {name}; waiting for it to finish")
        lock.acquire()
    try:
        if is_complete(entry):
            return entry
        _remove_leftovers(cache_root, name)
        tmp = Path(tempfile.mkdtemp(dir=cache_root, prefix=f".{name}.", suffix=".tmp"))
        try:
            build(tmp)
            if entry.exists():  # incomplete or stale (is_complete said no): replaced, not merged
                shutil.rmtree(entry)
            tmp.rename(entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        lock.release()
    return entry


def _remove_leftovers(cache_root: Path, name: str) -> None:
    """Temporary directories of builds that were killed before they could clean up."""
    for leftover in cache_root.glob(f".{name}.*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)


def copy_tree_files(source: Path, target: Path) -> None:
    """Hard-link (or copy, across file systems) the plain files of ``source`` into ``target``."""
    for path in sorted(source.iterdir()):
        if not path.is_file():
            continue
        try:
            os.link(path, target / path.name)
        except OSError:
            shutil.copy2(path, target / path.name)
