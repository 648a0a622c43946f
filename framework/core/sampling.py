"""The training order: a shuffle that any epoch can recompute from the seed alone, so a resumed run continues it."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochShuffle(Sampler[int]):
    """Indices ``0..size-1`` in epoch ``e``'s shuffled order, a function of ``seed`` and ``e`` only.

    The orders are exactly those of ``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed))``,
    so results match runs made before resuming existed: there, each epoch draws from the one
    generator a worker seed, the permutation, and one more permutation (``RandomSampler`` draws one
    for the remainder of ``size % size`` indices). Instead of carrying that generator from epoch to
    epoch, each epoch replays the draws of the ones before it (milliseconds), so a run resumed at
    epoch ``e`` sees the order an uninterrupted run would. Lightning calls :meth:`set_epoch` at the
    start of every training epoch.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch whose order the next iteration yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epoch):
            self._draw(generator)
            torch.randperm(self.size, generator=generator)  # the earlier epoch's remainder draw
        return iter(self._draw(generator).tolist())

    def _draw(self, generator: torch.Generator) -> torch.Tensor:
        """One epoch's worker seed (unused: the loader draws its own) and permutation."""
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        return torch.randperm(self.size, generator=generator)
