"""Callbacks the runner always attaches."""

from __future__ import annotations

import math
import time

import pytorch_lightning as pl
import torch

from framework.batch import VectorSet
from framework.errors import TrainingDiverged


class TrainingThroughput(pl.Callback):
    """Measures training throughput: real elements and sets per second of training-loop time.

    The clock runs from the start of each training epoch to the end of its last batch, so data
    loading is included and validation is not.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.sets = 0
        self._elements = torch.zeros((), dtype=torch.long)
        self._epoch_start = self._last_batch_end = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = self._last_batch_end = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch: VectorSet, batch_idx: int) -> None:
        # Summed on the batch's device and read once at the end, so no step waits for a sync.
        self._elements = self._elements.to(batch.mask.device) + batch.mask.sum()
        self.sets += batch.num_sets
        self._last_batch_end = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seconds += self._last_batch_end - self._epoch_start

    def summary(self) -> dict[str, float]:
        """Elements/s and sets/s over all training epochs so far."""
        seconds = max(self.seconds, 1e-9)
        return {
            "elements_per_s": round(int(self._elements) / seconds, 1),
            "samples_per_s": round(self.sets / seconds, 1),
            "train_seconds": round(self.seconds, 3),
        }


class FiniteLoss(pl.Callback):
    """Stops training at the first NaN or infinite training loss, naming the step and the last finite loss.

    Reading the loss waits for the step to finish; on a GPU that costs a little overlap per step,
    the price of stopping at the step that diverged rather than epochs later.
    """

    def __init__(self) -> None:
        self.last_finite: tuple[int, float] | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch: VectorSet, batch_idx: int) -> None:
        loss = float(outputs["loss"] if isinstance(outputs, dict) else outputs)
        step = trainer.global_step
        if math.isfinite(loss):
            self.last_finite = (step, loss)
            return
        last = "none" if self.last_finite is None else f"{self.last_finite[1]:.4g} at step {self.last_finite[0]}"
        raise TrainingDiverged(
            f"the training loss became {loss} at step {step} (epoch {trainer.current_epoch}); last finite loss: {last}. "
            "Lower optimizer.lr, keep trainer.gradient_clip_val on, or try trainer.precision=32-true"
        )
