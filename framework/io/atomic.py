"""Writing files so that a reader sees either the whole file or none of it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary name and a rename.

    The temporary name is unique to this call, so writers of the same file in other processes
    (every DDP process builds the same caches) or threads never write into or rename each
    other's temporary file; the last rename wins, and each rename puts a whole file in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    try:
        with partial.open("xb") as f:
            f.write(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
