"""Writing files so that a reader sees either the whole file or none of it, also after a crash."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def replace_durably(partial: Path, path: Path) -> None:
    """Renames the finished file ``partial`` to ``path`` so that a crash or power loss leaves one of the two whole.

    The file's bytes reach the disk before the rename (else the rename may land first and leave an
    empty ``path``), and the folder's entry after it (else the old file may come back).
    """
    with partial.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flushes ``folder``'s entries (a rename into it) to the disk."""
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary name and a durable rename (:func:`replace_durably`).

    The temporary name is unique to this call, so writers of the same file in other processes
    (every DDP process builds the same caches) or threads never write into or rename each
    other's temporary file; the last rename wins, and each rename puts a whole file in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    try:
        with partial.open("xb") as f:
            f.write(data)
        replace_durably(partial, path)
    finally:
        partial.unlink(missing_ok=True)
