"""The interface every modality plugin implements: data, structure, masks and input encoding."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from framework.core.batch import VectorSet
from framework.core.errors import require
from framework.core.sampling import EpochShuffle
from framework.core.spec import ModalitySpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

AttentionRows = Callable[[Tensor], Tensor]
"""``rows(positions)``: the weights ``[Q, N]`` (mean over heads) of the elements at ``positions`` ``[Q]``.

Each row is over all ``N`` elements.
"""


def _as_batch(batch: Any) -> Any:
    """Collate function for datasets whose ``__getitems__`` already returns a whole batch."""
    return batch


def _with_edges(edges: Callable[[VectorSet], Tensor], batch: VectorSet) -> VectorSet:
    """Collate function that adds the modality's natural graph to a ready batch."""
    return replace(batch, edge_index=edges(batch))


class Modality(pl.LightningDataModule, ABC):
    """A source of :class:`~framework.core.batch.VectorSet` batches.

    A modality owns its datasets (download, cache, splits), how raw elements become vectors
    (:meth:`input_encoder`) and its masks. :attr:`spec` must be answerable from the config
    alone, before :meth:`setup` loads any data, so incompatible pairs fail fast.

    Subclasses fill ``self.splits`` (``train``/``val``/``test`` datasets) in :meth:`setup`;
    each dataset should implement ``__getitems__(indices)`` returning a ready batch, so
    loading costs one vectorised call per batch rather than one Python call per element.

    A modality whose data is not a graph may still offer its natural graph (a chain of words,
    a grid of pixels): it sets ``spec.has_edges`` and implements :meth:`edges`, and its batches
    carry ``edge_index`` once the runner calls :meth:`provide_edges` for a model that reads them.

    A modality draws its own attention maps (:meth:`draw_attention`): words on the axes of text,
    the image beside a pixel's attention, seconds on speech.

    Args:
        name: the modality's config name.
        batch_size: sets per training batch.
        eval_batch_size: sets per validation/test batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        seed: fixes splits, subsets and shuffling.
        data_dir: raw downloads; read-only once the files are there.
        cache_dir: derived files (decoded tensors, features).
    """

    def __init__(
        self,
        name: str,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int,
        seed: int,
        data_dir: str,
        cache_dir: str,
    ) -> None:
        super().__init__()
        require(batch_size > 0, "batch_size", batch_size, "must be a positive integer")
        require(eval_batch_size > 0, "eval_batch_size", eval_batch_size, "must be a positive integer")
        cores = os.cpu_count() or 1
        require(
            0 <= num_workers <= cores,
            "num_workers",
            num_workers,
            f"must be from 0 to {cores}, this machine's cores (more worker processes than cores only compete)",
        )
        self.name, self.seed = name, seed
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.data_dir, self.cache_dir = Path(data_dir).expanduser(), Path(cache_dir).expanduser()
        self.splits: dict[str, Dataset] = {}
        self.edges_provided = False

    @property
    @abstractmethod
    def spec(self) -> ModalitySpec:
        """What this modality offers (layout, target, classes, scopes); needs no data."""

    @abstractmethod
    def input_encoder(self, dim: int) -> nn.Module:
        """A module mapping a batch's raw ``x`` to ``[B, N, dim]`` vectors; called after :meth:`setup`."""

    def raw_input(self) -> nn.Module:
        """A module mapping a batch to its raw features ``[B, N, spec.raw_features]``, for models that read them.

        Only modalities whose spec sets ``raw_features`` offer it; it applies no projection (the
        model's first layer is the projection), at most the modality's input dropout.
        """
        raise NotImplementedError(f"modality '{self.name}' offers no raw features")

    def edges(self, batch: VectorSet) -> Tensor:
        """The natural graph over ``batch`` as ``edge_index`` (see :mod:`framework.nn.edges`)."""
        raise NotImplementedError(f"modality '{self.name}' has no derived edges")

    def provide_edges(self) -> None:
        """Makes every batch carry ``edge_index`` from :meth:`edges` (they cost time, so only on request)."""
        self.edges_provided = True

    def example(self, split: str, index: int) -> VectorSet:
        """Set ``index`` of ``split`` alone, as a batch of one, as the loaders serve it (with edges when provided)."""
        return self._collate()(self.splits[split].__getitems__([index]))

    def describe(self, split: str, index: int) -> dict[str, Any]:
        """Which data set ``index`` of ``split`` is, for ``predictions.csv`` (``mode=predict``).

        Column name → one value for the whole set (a sentence id), or a list with one value per
        element (its words, frame times, node ids). The default names nothing: rows then carry
        only the set's and the element's index.
        """
        return {}

    def draw_attention(
        self, example: VectorSet, rows: AttentionRows, title: str, queries: int, max_elements: int
    ) -> Figure | None:
        """A picture of one attention layer on ``example`` (one validation set, a batch of one, on the CPU).

        ``rows(positions)`` gives the weights ``[Q, N]`` (mean over heads) of the elements at
        ``positions`` ``[Q]`` over all ``N`` elements; ask only for the rows drawn, each costs ``N``
        scores. A picture of a few query elements shows ``queries`` of them; a matrix at most
        ``max_elements`` elements along an axis. Build the figure with
        :func:`framework.new_figure` (or :func:`framework.matrix_figure`). The default draws nothing (returns None).
        """
        return None

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        sampler = self._sampler(split, shuffle)
        return DataLoader(
            self.splits[split],
            batch_size=batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            collate_fn=self._collate(),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            # Worker seeds of the training loader come from here, not from the global generator (dropout's).
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
        )

    def _sampler(self, split: str, shuffle: bool) -> Sampler[int] | None:
        """The order of ``split``: an :class:`EpochShuffle` for training, and under DDP each process's share.

        Under DDP, Lightning gives each process a share of the training split (its sampler is
        seeded per epoch too); an evaluation split is shared so that every set is in exactly one
        process (Lightning's own sampler would repeat sets to even out the shares, and the repeats
        would count twice in the metrics). A split with fewer sets than processes (one graph)
        cannot be shared: that is a config error.
        """
        shares = self.trainer.distributed_sampler_kwargs if self.trainer is not None else None
        if shares is None:
            return EpochShuffle(len(self.splits[split]), self.seed) if shuffle else None
        size, processes = len(self.splits[split]), shares["num_replicas"]
        require(
            size >= processes,
            "trainer.devices",
            self.trainer.num_devices,
            f"the {processes} DDP processes cannot share the {split} split of modality '{self.name}', which holds only "
            f"{size} set(s) (one graph is one set); run it in one process: trainer.devices=1 trainer.num_nodes=1",
        )
        return None if shuffle else UnrepeatedDistributedSampler(self.splits[split], shuffle=False, **shares)

    def _collate(self) -> Callable[[Any], Any]:
        return partial(_with_edges, self.edges) if self.edges_provided else _as_batch
