"""A split's figures from one confusion count: the same values torchmetrics computes, over any number of steps."""

from __future__ import annotations

import math

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from framework.core.batch import IGNORE_INDEX
from framework.train.metrics import SplitMetrics

CLASSES = 7


def steps(seed: int, count: int = 4, size: int = 50) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Logits, labels with a quarter ignored, and two subset columns, for ``count`` steps."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        logits = torch.randn(size, CLASSES, generator=generator)
        labels = torch.randint(0, CLASSES, (size,), generator=generator)
        labels[torch.rand(size, generator=generator) < 0.25] = IGNORE_INDEX
        subsets = torch.rand(size, 2, generator=generator) < 0.3
        out.append((logits, labels, subsets))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_and_macro_f1_equal_torchmetrics_with_padding_ignored(seed):
    ours = SplitMetrics(CLASSES, ("rare", "ambiguous"))
    accuracy = MulticlassAccuracy(CLASSES, average="micro", ignore_index=IGNORE_INDEX)
    f1 = MulticlassF1Score(CLASSES, average="macro", ignore_index=IGNORE_INDEX)
    for logits, labels, subsets in steps(seed):
        ours.update(logits, labels, subsets)
        accuracy.update(logits, labels)
        f1.update(logits, labels)
    values = ours.compute()
    assert values["acc"].item() == pytest.approx(accuracy.compute().item(), abs=1e-6)
    assert values["f1"].item() == pytest.approx(f1.compute().item(), abs=1e-6)


def test_macro_f1_skips_classes_neither_labelled_nor_predicted_as_torchmetrics_does():
    logits = torch.full((4, CLASSES), -10.0)
    logits[torch.arange(4), torch.tensor([0, 0, 1, 2])] = 10.0  # predicts 0, 0, 1, 2
    labels = torch.tensor([0, 1, 1, 2])  # classes 3..6 never appear on either side
    ours = SplitMetrics(CLASSES)
    ours.update(logits, labels)
    f1 = MulticlassF1Score(CLASSES, average="macro")(logits, labels)
    assert ours.compute()["f1"].item() == pytest.approx(f1.item()) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_a_subsets_accuracy_counts_only_its_labelled_members():
    logits, labels, subsets = steps(seed=0, count=1)[0]
    ours = SplitMetrics(CLASSES, ("rare", "ambiguous"))
    ours.update(logits, labels, subsets)
    values = ours.compute()
    for column, name in enumerate(("rare", "ambiguous")):
        members = subsets[:, column] & (labels != IGNORE_INDEX)
        expected = (logits.argmax(-1)[members] == labels[members]).float().mean().item()
        assert values[f"acc_{name}"].item() == pytest.approx(expected)


def test_a_subset_never_seen_is_nan_and_an_empty_split_scores_zero():
    ours = SplitMetrics(CLASSES, ("unknown",))
    logits = torch.randn(3, CLASSES)
    ours.update(logits, torch.full((3,), IGNORE_INDEX), torch.ones(3, 1, dtype=torch.bool))
    values = ours.compute()
    assert math.isnan(values["acc_unknown"].item())
    assert values["acc"].item() == 0.0 and values["f1"].item() == 0.0


def test_reset_forgets_the_epoch_and_every_figure_is_a_float_scalar():
    ours = SplitMetrics(CLASSES, ("rare",))
    logits, labels, subsets = steps(seed=1, count=1)[0]
    ours.update(logits, labels, subsets[:, :1])
    assert sorted(ours.compute()) == ["acc", "acc_rare", "f1"]
    assert all(value.dtype == torch.float32 and value.ndim == 0 for value in ours.compute().values())
    ours.reset()
    assert int(ours.confusion.sum()) == 0 and int(ours.subset_total.sum()) == 0


def test_per_set_targets_without_subsets_need_no_subset_argument():
    ours = SplitMetrics(CLASSES)
    logits = torch.eye(CLASSES)
    ours.update(logits, torch.arange(CLASSES))
    assert ours.compute() == {"acc": torch.tensor(1.0), "f1": torch.tensor(1.0)}
