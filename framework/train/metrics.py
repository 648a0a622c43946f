"""The metrics every run reports: accuracy, macro-F1 and accuracy on the modality's named element subsets."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from framework.core.batch import IGNORE_INDEX
from framework.core.spec import ModalitySpec


class SubsetAccuracy(Metric):
    """Accuracy over the labelled elements that belong to one named subset (column ``index`` of ``subsets``).

    Unlike a plain accuracy it is NaN, not 0, when no element of the subset was seen (a split
    without unknown words has no unknown-word accuracy).
    """

    full_state_update = False

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.add_state("correct", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, subsets: Tensor) -> None:
        """``preds`` ``[M, C]`` logits, ``target`` ``[M]`` labels, ``subsets`` ``[M, S]`` membership."""
        selected = subsets[:, self.index] & (target != IGNORE_INDEX)
        self.correct += ((preds.argmax(dim=-1) == target) & selected).sum()  # a mask, not an index: no device sync
        self.total += selected.sum()

    def compute(self) -> Tensor:
        return torch.where(self.total > 0, self.correct / self.total.clamp_min(1), torch.nan)


def metric_names(spec: ModalitySpec) -> list[str]:
    """What every split logs as ``<split>/<name>``: ``loss``, ``acc``, ``f1`` and ``acc_<subset>`` per named subset."""
    return ["loss", "acc", "f1", *(f"acc_{name}" for name in spec.subsets)]


def split_metrics(spec: ModalitySpec) -> MetricCollection:
    """``acc`` (micro) and ``f1`` (macro) over labelled elements (or sets), plus ``acc_<subset>`` per named subset."""
    # validate_args=False: the labels come from the modality, and checking them reads them back
    # from the device at every step.
    metrics = {
        "acc": MulticlassAccuracy(spec.num_classes, average="micro", ignore_index=IGNORE_INDEX, validate_args=False),
        "f1": MulticlassF1Score(spec.num_classes, average="macro", ignore_index=IGNORE_INDEX, validate_args=False),
    }
    metrics |= {f"acc_{name}": SubsetAccuracy(index) for index, name in enumerate(spec.subsets)}
    # Compute groups would merge metrics whose states happen to match after the first batch.
    return MetricCollection(metrics, compute_groups=False)
