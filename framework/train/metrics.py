"""The metrics every run reports: accuracy, macro-F1 and accuracy on the modality's named element subsets."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from framework.core.batch import IGNORE_INDEX
from framework.core.spec import ModalitySpec


def metric_names(spec: ModalitySpec) -> list[str]:
    """What every split logs as ``<split>/<name>``: ``loss``, ``acc``, ``f1`` and ``acc_<subset>`` per named subset."""
    return ["loss", "acc", "f1", *(f"acc_{name}" for name in spec.subsets)]


class SplitMetrics(Metric):
    """``acc`` (micro), ``f1`` (macro) and ``acc_<subset>`` of one split, from one confusion matrix and subset counts.

    One update a step (an argmax, a scatter into the ``C×C`` counts, two subset sums) serves every
    figure, at a quarter of the cost of separate torchmetrics accuracy, F1 and subset metrics on
    small CPU steps.
    ``acc`` and ``f1`` equal torchmetrics' ``MulticlassAccuracy(average="micro")`` and
    ``MulticlassF1Score(average="macro")``: the F1 mean skips classes neither labelled nor predicted.
    A subset's accuracy is NaN, not 0, when no element of it was seen (a split without unknown
    words has no unknown-word accuracy). Only elements (or sets) labelled other than
    ``IGNORE_INDEX`` count. Integer counts, summed across processes under DDP.

    Args:
        num_classes: ``C``.
        subsets: the modality's subset names, in the order of the columns of ``subsets``.
    """

    full_state_update = False

    def __init__(self, num_classes: int, subsets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.num_classes, self.subsets = num_classes, subsets
        # confusion[label * C + prediction]: flat, so one scatter_add_ counts a step without waiting for the device
        self.add_state("confusion", torch.zeros(num_classes * num_classes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("subset_correct", torch.zeros(len(subsets), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("subset_total", torch.zeros(len(subsets), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, subsets: Tensor | None = None) -> None:
        """``preds`` ``[M, C]`` logits, ``target`` ``[M]`` labels, ``subsets`` ``[M, S]`` membership (or ``None``)."""
        predicted = preds.argmax(dim=-1)
        labelled = target != IGNORE_INDEX
        cell = torch.where(labelled, target * self.num_classes + predicted, 0)
        self.confusion.scatter_add_(0, cell, labelled.long())
        if subsets is not None and self.subsets:
            correct = labelled & (predicted == target)
            self.subset_correct += (subsets & correct[:, None]).sum(dim=0)
            self.subset_total += (subsets & labelled[:, None]).sum(dim=0)

    def compute(self) -> dict[str, Tensor]:
        """``{"acc", "f1", "acc_<subset>", ...}`` over everything updated since the last reset."""
        confusion = self.confusion.view(self.num_classes, self.num_classes).double()
        hits = confusion.diagonal()
        labelled, predicted = confusion.sum(dim=1), confusion.sum(dim=0)
        seen = labelled + predicted > 0  # tp + fp + fn > 0
        f1 = 2 * hits / (labelled + predicted).clamp_min(1)
        values = {
            "acc": hits.sum() / labelled.sum().clamp_min(1),
            "f1": (f1 * seen).sum() / seen.sum().clamp_min(1),
        }
        subset_acc = torch.where(self.subset_total > 0, self.subset_correct / self.subset_total.clamp_min(1), torch.nan)
        values |= {f"acc_{name}": subset_acc[index] for index, name in enumerate(self.subsets)}
        return {name: value.float() for name, value in values.items()}
