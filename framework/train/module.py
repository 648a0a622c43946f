"""The one LightningModule: input encoder → positions → model encoder → head → loss and metrics."""

from __future__ import annotations

from collections.abc import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric

from framework.core.batch import IGNORE_INDEX, VectorSet
from framework.core.encoder import Encoder
from framework.core.spec import ModalitySpec, Target
from framework.train.metrics import SplitMetrics

OptimizerFactory = Callable[[nn.Module], torch.optim.Optimizer]
SPLITS = ("train", "val", "test")


def class_head(spec: ModalitySpec, encoder: Encoder) -> nn.Module:
    """The layer from the encoder's vectors to class scores; none for an encoder that outputs class scores itself."""
    return nn.Identity() if encoder.classifies else nn.Linear(encoder.dim, spec.num_classes)


class ArenaModule(pl.LightningModule):
    """Trains any model encoder on any modality through the vector-set contract.

    Args:
        spec: the modality's spec (target kind and classes decide the head).
        input_encoder: the modality's raw-input embedding, ``batch → [B, N, D]``.
        positional: adds position vectors, ``(h, batch) → h``.
        encoder: the model under comparison; one that classifies gets no head.
        optimizer: builds the optimizer for this module (its parameters, by name).
        warmup_fraction: share of the training steps with a linear learning-rate warm-up,
            followed by cosine decay to zero; ``None`` keeps the learning rate constant.
    """

    def __init__(
        self,
        spec: ModalitySpec,
        input_encoder: nn.Module,
        positional: nn.Module,
        encoder: Encoder,
        optimizer: OptimizerFactory,
        warmup_fraction: float | None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.input_encoder, self.positional, self.encoder = input_encoder, positional, encoder
        self.head = class_head(spec, encoder)
        self.optimizer_factory, self.warmup_fraction = optimizer, warmup_fraction
        self.metrics = nn.ModuleDict(
            {f"{split}_metrics": SplitMetrics(spec.num_classes, spec.subsets) for split in SPLITS}
        )
        # "disable": no NaN check, which would wait for the GPU at every step (FiniteLoss stops a NaN loss).
        self.losses = nn.ModuleDict({f"{split}_loss": MeanMetric(nan_strategy="disable") for split in SPLITS})

    def forward(self, batch: VectorSet) -> Tensor:
        """Logits ``[B, N, C]`` for per-element targets or ``[B, C]`` for per-set targets."""
        h = self.positional(self.input_encoder(batch), batch)
        if self.spec.target is Target.SET:
            return self.head(self.encoder.forward_set(h, batch))
        return self.head(self.encoder(h, batch))

    def scored(self, batch: VectorSet) -> tuple[Tensor, Tensor, Tensor | None]:
        """Logits ``[M, C]``, labels ``[M]`` (padding: ``IGNORE_INDEX``), subsets ``[M, S]`` of what ``batch`` scores.

        ``M`` is the number of sets for per-set targets, or every element slot for per-element targets.
        """
        logits, labels, subsets = self(batch), batch.y, batch.subsets
        if self.spec.target is Target.ELEMENT:
            logits = logits.flatten(0, 1)
            labels = labels.masked_fill(~batch.mask, IGNORE_INDEX).flatten()
            subsets = subsets.flatten(0, 1) if subsets is not None else None
        return logits, labels, subsets

    def _step(self, batch: VectorSet, split: str) -> Tensor:
        logits, labels, subsets = self.scored(batch)
        loss = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)
        self.metrics[f"{split}_metrics"].update(logits.detach(), labels, subsets=subsets)
        # The epoch's loss is a mean over sets (the batch's loss once per set) kept by a metric: under DDP its sums
        # cover every process. (Lightning's sync_dist mean divides the summed batch sizes as integers: off when the
        # processes hold unequal shares.)
        self.losses[f"{split}_loss"].update(loss.detach().expand(batch.num_sets))
        return loss

    def _log_epoch(self, split: str) -> None:
        """Logs the split's epoch figures once per epoch and resets its counts.

        Logging them at every step instead costs Lightning's per-call bookkeeping (about a
        millisecond per key on a CPU), which is most of a step on small full-batch graphs.
        """
        loss = self.losses[f"{split}_loss"]
        if loss.update_called:  # an epoch with no batch (a limited debug run) has nothing to log
            self.log(f"{split}/loss", loss)
            metrics = self.metrics[f"{split}_metrics"]
            # compute() has summed the counts of every process; sync_dist only averages identical values (and keeps
            # Lightning from warning under DDP).
            self.log_dict({f"{split}/{name}": value for name, value in metrics.compute().items()}, sync_dist=True)
            metrics.reset()

    def training_step(self, batch: VectorSet, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: VectorSet, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: VectorSet, batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: VectorSet, batch_idx: int) -> tuple[Tensor, VectorSet]:
        """The predicted classes, ``[B, N]`` (``[B]`` for per-set targets), and the batch they are for, on the CPU."""
        return self(batch).argmax(dim=-1).cpu(), batch.to("cpu")

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self)
        if self.warmup_fraction is None:
            return optimizer
        schedule = warmup_cosine(optimizer, int(self.trainer.estimated_stepping_batches), self.warmup_fraction)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def warmup_cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step schedule: linear warm-up over ``warmup_fraction`` of ``total_steps``, then cosine decay to zero."""
    total = max(1, total_steps)
    warmup = max(1, int(total * warmup_fraction))
    return torch.optim.lr_scheduler.SequentialLR(
        optimizer,
        [
            torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup, total_iters=warmup),
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total - warmup)),
        ],
        milestones=[warmup],
    )
