"""Checkpoints written whole or not at all: a run killed while saving never leaves half a ``best.ckpt``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from framework.io.atomic import write_atomic


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, saving local files through a temporary name in the same folder and a rename.

    Lightning's own writes through a temporary file elsewhere (``/tmp``) and moves it into place,
    which is a copy, so not atomic, when the two lie on different file systems.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        if storage_options is not None or "://" in str(path):  # remote storage: Lightning's own way
            return super().save_checkpoint(checkpoint, path, storage_options)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(Path(path), buffer.getvalue())
