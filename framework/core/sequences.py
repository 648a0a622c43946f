"""Variable-length sequences held as flat tensors, served as padded :class:`VectorSet` batches."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset

from framework.core.batch import IGNORE_INDEX, VectorSet
from framework.core.spec import Target


class SequenceSets(Dataset):
    """``M`` sequences stored back to back; ``__getitems__`` pads a batch to its longest member.

    Args:
        x: ``[T, ...]`` every element of every sequence, in order.
        lengths: ``[M]`` elements per sequence.
        y: ``[T]`` per-element labels (``target=ELEMENT``) or ``[M]`` per-sequence labels (``SET``).
        target: what ``y`` labels.
        subsets: ``[T, S]`` element membership in the modality's named subsets, if any.
    """

    def __init__(self, x: Tensor, lengths: Tensor, y: Tensor, target: Target, subsets: Tensor | None = None) -> None:
        expected = len(x) if target is Target.ELEMENT else len(lengths)
        if len(y) != expected:
            raise ValueError(f"{len(y)} labels for {expected} {target.value}s")
        self.x, self.lengths, self.y, self.subsets = x, lengths, y, subsets
        self.starts = torch.cumsum(lengths, 0) - lengths
        self.per_element = target is Target.ELEMENT

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitems__(self, indices: list[int]) -> VectorSet:
        index = torch.as_tensor(indices)
        lengths = self.lengths[index]
        positions = torch.arange(int(lengths.max()))
        mask = positions < lengths[:, None]
        flat = torch.where(mask, self.starts[index, None] + positions, 0)  # padding reads element 0, then is blanked
        blank = ~mask.view(*mask.shape, *[1] * (self.x.dim() - 1))
        return VectorSet(
            x=self.features(flat, mask).masked_fill(blank, 0),
            mask=mask,
            y=self.y[flat].masked_fill(~mask, IGNORE_INDEX) if self.per_element else self.y[index],
            pos=positions.expand(len(index), -1),
            subsets=self.subsets[flat] & mask[..., None] if self.subsets is not None else None,
        )

    def __getitem__(self, i: int) -> VectorSet:
        return self.__getitems__([i])

    def features(self, flat: Tensor, mask: Tensor) -> Tensor:
        """The batch's ``x`` at flat element indices ``flat`` ``[B, N]``; subclasses may trim it."""
        return self.x[flat]
