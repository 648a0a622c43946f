"""Callbacks the runner always attaches."""

from __future__ import annotations

import math
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import RichModelSummary
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch import Tensor

from framework.core.batch import VectorSet
from framework.core.errors import Interrupted, TrainingDiverged, one_of, require

EARLY_STOP_RULES = ("best", "mean")


class EarlyStop(pl.Callback):
    """Stops training when the monitored validation metrics stop improving, by one of the papers' rules.

    - ``rule=best`` (Veličković et al. 2018, GAT: patience 100 on validation loss and accuracy):
      stop once no monitored metric has improved on its best for ``patience`` validations; a metric
      named ``*loss`` improves by not going up, any other by not going down, and an improvement
      of any one of them resets the count.
    - ``rule=mean`` (Kipf & Welling 2017, GCN: window 10 on validation loss): stop once the one
      monitored loss is above its mean over the ``patience`` validations before it.

    The weights tested are the checkpoint callback's choice (the best validation accuracy).

    Args:
        monitor: the metric watched (``val/loss``), or a list of them (``rule=best`` only).
        patience: validations without an improvement (``best``), or the window of the mean (``mean``).
        rule: ``best`` or ``mean``.
    """

    def __init__(self, monitor: str | list[str], patience: int, rule: str = "best") -> None:
        monitors = [monitor] if isinstance(monitor, str) else list(monitor)
        require(
            bool(monitors) and all(isinstance(name, str) for name in monitors),
            "monitor",
            monitor,
            "name a validation metric (val/loss) or a list of them",
        )
        require(patience > 0, "patience", patience, "must be a positive integer (validations without improvement)")
        one_of("rule", rule, EARLY_STOP_RULES)
        require(
            rule == "best" or (len(monitors) == 1 and monitors[0].endswith("loss")),
            "monitor",
            monitor,
            "rule=mean watches one loss (val/loss)",
        )
        self.monitors, self.patience, self.rule = tuple(monitors), patience, rule
        self.best: dict[str, float] = {}
        self.waited = 0
        self.history: list[float] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        values = {name: float(trainer.callback_metrics[name]) for name in self.monitors}
        if self.rule == "mean":
            (value,) = values.values()
            window, self.history = self.history[-self.patience :], [*self.history[-self.patience :], value]
            if len(window) == self.patience and value > statistics.fmean(window):
                trainer.should_stop = True
            return
        improved = False
        for name, value in values.items():
            best = self.best.get(name)
            if best is None or (value <= best if name.endswith("loss") else value >= best):
                self.best[name], improved = value, True
        self.waited = 0 if improved else self.waited + 1
        if self.waited >= self.patience:
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"best": dict(self.best), "waited": self.waited, "history": list(self.history)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.best, self.waited = dict(state_dict["best"]), state_dict["waited"]
        self.history = list(state_dict["history"])


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

    Each step's loss is read at the end of the next step (and of the epoch), when the device has
    long computed it: reading it at once would make the host wait for every step on a GPU. A
    diverged run stops one step later than the step it names.
    """

    def __init__(self) -> None:
        self.last_finite: tuple[int, float] | None = None
        self._unread: tuple[int, int, Tensor] | None = None  # (step, epoch, loss) not yet read

    def on_train_batch_end(self, trainer, pl_module, outputs, batch: VectorSet, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._read()
        self._unread = (trainer.global_step, trainer.current_epoch, loss.detach())

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._read()

    def _read(self) -> None:
        if self._unread is None:
            return
        (step, epoch, tensor), self._unread = self._unread, None
        loss = float(tensor)
        if math.isfinite(loss):
            self.last_finite = (step, loss)
            return
        last = "none" if self.last_finite is None else f"{self.last_finite[1]:.4g} at step {self.last_finite[0]}"
        raise TrainingDiverged(
            f"the training loss became {loss} at step {step} (epoch {epoch}); last finite loss: {last}. "
            "Lower optimizer.lr, keep trainer.gradient_clip_val on, or try trainer.precision=32-true"
        )


class ModelSummary(RichModelSummary):
    """Lightning's rich model summary; FLOPs are those of one forward pass over the module's ``example_input_array``.

    The input and output sizes are left out: a batch of vector sets has no size to show, and the
    columns crowd an 80-column console.
    """

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], *args: Any, **kwargs: Any) -> None:
        kept = [(name, values) for name, values in summary_data if name not in ("In sizes", "Out sizes")]
        RichModelSummary.summarize(kept, *args, **kwargs)


class GracefulStop(pl.Callback):
    """Stops training cleanly on SIGINT or SIGTERM, at the end of the current batch (training, validation or test).

    While :meth:`listening`, a signal only records itself; the next batch end (of training, validation
    or the final test) raises :class:`~framework.core.errors.Interrupted`, so Lightning closes the
    loggers and the run ends with its last resume point in place (a partial epoch is not saved:
    continuing from one would not give the same result as an uninterrupted run). A second SIGINT
    interrupts at once. Handlers that were there before (Lightning's own SIGTERM handler) are still
    called.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self.position = "before the first batch"  # where training stood at the last batch end
        self._previous: dict[int, object] = {}

    @contextmanager
    def listening(self) -> Iterator[None]:
        """Installs the handlers for the block (main thread only); raises :class:`Interrupted` after it on a signal."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._previous = {number: signal.signal(number, self._record) for number in self.SIGNALS}
        try:
            yield
        except SIGTERMException:
            # Lightning stops by itself (exit status 0) when SIGTERM lands after this callback's batch-end check.
            raise Interrupted(f"stopped by SIGTERM {self.position}", signal.SIGTERM) from None
        finally:
            for number, handler in self._previous.items():
                signal.signal(number, handler)
        self.check("after training")

    def _record(self, number: int, frame) -> None:
        if number == signal.SIGINT and self.received == signal.SIGINT:
            # Not KeyboardInterrupt: Lightning answers that with exit(1), before the run could record its end.
            raise Interrupted(f"stopped at once by a second SIGINT {self.position}", signal.SIGINT)
        self.received = number
        previous = self._previous.get(number)
        if callable(previous) and previous is not signal.default_int_handler:
            previous(number, frame)

    def check(self, where: str) -> None:
        """Raises :class:`Interrupted` if a signal was received."""
        if self.received is not None:
            name = signal.Signals(self.received).name
            raise Interrupted(f"stopped by {name} {where}", self.received)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch: VectorSet, batch_idx: int) -> None:
        self.position = f"at epoch {trainer.current_epoch}, step {trainer.global_step}"
        self.check(self.position)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0):
        self.check(f"while validating, {self.position}")

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0):
        self.check("while testing the best checkpoint")
