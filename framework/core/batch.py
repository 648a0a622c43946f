"""The one data contract: a padded batch of vector sets."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

IGNORE_INDEX = -100
"""Label value that the loss and the metrics skip (padding, unlabeled elements)."""


@dataclass
class VectorSet:
    """A batch of ``B`` vector sets padded to ``N`` elements.

    Attributes:
        x: ``[B, N, F]`` float features, or integer ids the modality's input encoder reads
            (text: ``[B, N, 1 + C]``, a word id and its character ids).
        mask: ``[B, N]`` bool, True where an element is real; padding is False.
        y: ``[B, N]`` per-element labels (``IGNORE_INDEX`` = no label) or ``[B]`` per-set labels.
        pos: ``[B, N]`` sequence index, or ``[B, N, 2]`` grid (row, col); None if unordered.
        edge_index: ``[2, E]`` directed edges (source, target) over flattened ``b * N + i``
            indices; None when the modality has no edges.
        grid: ``(H, W)`` when the ``N = H * W`` elements are an image in raster order.
        subsets: ``[B, N, S]`` bool, membership of each element in the modality's ``S`` named
            subsets (``spec.subsets``, e.g. ambiguous or unknown words), scored separately;
            None when the modality names none.
    """

    x: Tensor
    mask: Tensor
    y: Tensor
    pos: Tensor | None = None
    edge_index: Tensor | None = None
    grid: tuple[int, int] | None = None
    subsets: Tensor | None = None

    @property
    def num_sets(self) -> int:
        """Number of sets ``B`` in the batch."""
        return self.mask.shape[0]

    @property
    def num_elements(self) -> int:
        """Number of real (non-padding) elements in the batch."""
        return int(self.mask.sum())

    @property
    def lengths(self) -> Tensor:
        """``[B]`` count of real elements per set."""
        return self.mask.sum(dim=1)

    def to(self, device: torch.device | str) -> VectorSet:
        """Moves every tensor to ``device`` (called by Lightning through ``transfer_batch_to_device``)."""
        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=True)
            for f in fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return replace(self, **moved)
