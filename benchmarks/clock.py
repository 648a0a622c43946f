"""Callbacks the benchmarks add to real ``run.py`` runs (``+callbacks.<name>._target_=benchmarks.clock.<Class>``).

They only read clocks and write one JSON file when training ends, so the run they time is the
run a user gets.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytorch_lightning as pl

HEAVY_LIBRARIES = ("torchvision", "torch_geometric", "wandb", "matplotlib", "scipy", "sklearn", "torch._dynamo")
"""Libraries whose import costs start-up time; the first-step clock records which ones a run had loaded."""


class EpochClock(pl.Callback):
    """Per training epoch: seconds of the training loop (epoch start to its last batch) and of the whole epoch
    (epoch start to the next epoch's start).

    The whole epoch covers all a run does once per epoch: validation, the epoch-end logging, the
    best checkpoint and the resume point. The last epoch has no next start and is left out.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.epochs: list[dict[str, float]] = []
        self._start: float | None = None
        self._last_batch = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        now = time.perf_counter()
        if self._start is not None:
            self.epochs.append({"train_s": self._last_batch - self._start, "epoch_s": now - self._start})
        self._start = self._last_batch = now

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._last_batch = time.perf_counter()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.path.write_text(json.dumps({"epochs": self.epochs}))


class FirstStepClock(pl.Callback):
    """Writes the wall-clock time the first training batch starts at, and which heavy libraries were loaded by then."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.written = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if not self.written:
            loaded = [name for name in HEAVY_LIBRARIES if name in sys.modules]
            self.path.write_text(json.dumps({"first_step_at": time.time(), "loaded": loaded}))
            self.written = True
