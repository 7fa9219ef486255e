"""Content-addressed artifact store: bytes are kept under their sha256.

Layout: ``<root>/<sha[:2]>/<sha>`` for blobs and ``<root>/trees/<sha>/`` for directories (adapters,
checkpoints). Writes go to a temporary file in the same directory and are renamed into place, so a
reader never sees a half-written artifact; writing the same bytes again is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tuneloop.errors import NotFound

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(root: Path) -> str:
    """Hash of a directory: relative paths and file contents, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and a rename; the old file survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_lines(path: Path, lines: Iterable[str]) -> None:
    """Stream lines to a temp file, then rename: for outputs too big to build in memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for line in lines:
                handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArtifactStore:
    """Blobs and directory trees addressed by their sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def blob_path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def tree_path(self, sha: str) -> Path:
        return self.root / "trees" / sha

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its sha256. Storing the same bytes twice writes nothing."""
        sha = sha256_bytes(data)
        target = self.blob_path(sha)
        if not target.exists():
            atomic_write_bytes(target, data)
        return sha

    def put_file(self, source: Path) -> str:
        sha = sha256_file(source)
        target = self.blob_path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            os.close(fd)
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return sha

    def put_tree(self, source: Path) -> str:
        """Copy a directory into the store under its tree hash (copied aside, then renamed)."""
        sha = sha256_tree(source)
        target = self.tree_path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{sha[:12]}.", suffix=".tmp"))
            try:
                shutil.copytree(source, tmp, dirs_exist_ok=True)
                os.replace(tmp, target)
            except OSError:
                # Another writer renamed the same tree first; identical content, so keep theirs.
                shutil.rmtree(tmp, ignore_errors=True)
                if not target.exists():
                    raise
        return sha

    def get_bytes(self, sha: str) -> bytes:
        path = self.blob_path(sha)
        if not path.exists():
            raise NotFound("artifact_not_found", f"no artifact {sha[:12]} in {self.root}")
        return path.read_bytes()

    def exists(self, sha: str) -> bool:
        return self.blob_path(sha).exists() or self.tree_path(sha).exists()
