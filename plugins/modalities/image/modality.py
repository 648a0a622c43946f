"""Image modality: every pixel (or k×k patch) is one vector, its (row, col) the position; one label per image.

Datasets: ``digits`` (scikit-learn's bundled 8×8 digits, no network), ``mnist`` and ``cifar10``
(downloaded into ``data_dir`` on first use, checksums verified: see :mod:`plugins.modalities.image.files`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor, nn
from torch.utils.data import Dataset

from framework import (
    GRID_NEIGHBOURHOODS,
    AttentionRows,
    ConfigError,
    Layout,
    Modality,
    ModalitySpec,
    StandardizedProjection,
    Target,
    VectorSet,
    divisors,
    grid_edges,
    listed,
    one_of,
    require,
)
from plugins.modalities.image import files
from plugins.modalities.image.draw import attention_figure
from plugins.modalities.image.files import Images

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class ImageSource:
    """Shape and classes of an image dataset."""

    height: int
    width: int
    channels: int
    num_classes: int = 10


SOURCES = {
    "digits": ImageSource(8, 8, 1),
    "mnist": ImageSource(28, 28, 1),
    "cifar10": ImageSource(32, 32, 3),
}


def to_patches(images: Tensor, patch: int) -> Tensor:
    """``[M, H, W, C]`` → ``[M, (H/p)(W/p), p·p·C]``: non-overlapping patches in raster order."""
    M, H, W, C = images.shape
    grid = images.reshape(M, H // patch, patch, W // patch, patch, C).permute(0, 1, 3, 2, 4, 5)
    return grid.reshape(M, (H // patch) * (W // patch), patch * patch * C)


def grid_positions(height: int, width: int) -> Tensor:
    """``[H·W, 2]`` (row, col) of each cell in raster order."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([rows.flatten(), cols.flatten()], dim=-1)


class ImageSets(Dataset):
    """Images held in memory as ``uint8 [M, N, F]`` element features; yields whole batches."""

    def __init__(self, x: Tensor, y: Tensor, grid: tuple[int, int]) -> None:
        self.x, self.y, self.grid = x, y, grid
        self.pos = grid_positions(*grid)
        self.full_mask = torch.ones(x.shape[1], dtype=torch.bool)

    def __len__(self) -> int:
        return len(self.y)

    def __getitems__(self, indices: list[int]) -> VectorSet:
        index = torch.as_tensor(indices)
        B = len(index)
        return VectorSet(
            x=self.x[index].float(),
            mask=self.full_mask.expand(B, -1),
            y=self.y[index],
            pos=self.pos.expand(B, -1, -1),
            grid=self.grid,
        )

    def __getitem__(self, i: int) -> VectorSet:
        return self.__getitems__([i])


class ImageModality(Modality):
    """Image classification as a set of pixel (or patch) vectors on a grid.

    Args:
        dataset: ``digits``, ``mnist`` or ``cifar10``.
        patch: side of the square patches that become the vectors (1 = one vector per pixel).
        train_fraction: share of the training split used, drawn stratified from the seed.
        val_fraction: share of the (non-test) data held out for validation, stratified.
        test_fraction: share of ``digits`` held out for testing (mnist/cifar10 use their test sets).
        attention_scope: the scope attending models use on images.
        edge_neighbours: the derived graph joins each pixel (or patch) to its 4 or 8 grid neighbours.
        **loader: see :class:`~framework.Modality`.
    """

    def __init__(
        self,
        name: str,
        dataset: str,
        patch: int,
        train_fraction: float,
        val_fraction: float,
        test_fraction: float,
        attention_scope: str,
        edge_neighbours: int,
        **loader,
    ) -> None:
        super().__init__(name=name, **loader)
        one_of("dataset", dataset, SOURCES)
        source = SOURCES[dataset]
        require(
            patch > 0 and source.height % patch == 0 and source.width % patch == 0,
            "patch",
            patch,
            f"must divide the {source.height}x{source.width} {dataset} images; "
            f"allowed values are {listed(divisors(math.gcd(source.height, source.width)))}",
        )
        require(0 < train_fraction <= 1, "train_fraction", train_fraction, "must be in (0, 1]")
        require(0 < val_fraction < 1, "val_fraction", val_fraction, "must be in (0, 1)")
        require(0 < test_fraction < 1, "test_fraction", test_fraction, "must be in (0, 1)")
        one_of("edge_neighbours", edge_neighbours, GRID_NEIGHBOURHOODS)
        self.dataset, self.source, self.patch = dataset, source, patch
        self.train_fraction, self.val_fraction, self.test_fraction = train_fraction, val_fraction, test_fraction
        self.attention_scope, self.edge_neighbours = attention_scope, edge_neighbours
        self.grid = (source.height // patch, source.width // patch)

    @property
    def spec(self) -> ModalitySpec:
        return ModalitySpec(
            name=self.name,
            dataset=self.dataset,
            layout=Layout.GRID,
            target=Target.SET,
            num_classes=self.source.num_classes,
            scopes=("full", "graph"),
            max_positions=self.grid,
            has_edges=True,
            element="pixel" if self.patch == 1 else "patch",
        )

    def prepare_data(self) -> None:
        if self.dataset == "mnist":
            files.mnist_files(self.data_dir)
        elif self.dataset == "cifar10":
            files.cifar10_folder(self.data_dir)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        if self.dataset == "digits":
            images, labels = self._digits()
            rest, test = self._stratified_split(labels, self.test_fraction, np.arange(len(labels)), "test_fraction")
            pools = {"rest": (images[rest], labels[rest]), "test": (images[test], labels[test])}
        else:
            load = (
                partial(files.mnist, self.data_dir, self.cache_dir)
                if self.dataset == "mnist"
                else partial(files.cifar10, self.data_dir)
            )
            pools = {"rest": load(train=True), "test": load(train=False)}
            rest, test = np.arange(len(pools["rest"][1])), np.arange(len(pools["test"][1]))
        images, labels = pools["rest"]
        train, val = self._stratified_split(labels, self.val_fraction, np.arange(len(labels)), "val_fraction")
        if self.train_fraction < 1:
            train, _ = self._stratified_split(labels[train], 1 - self.train_fraction, train, "train_fraction")
        parts = {"train": (images[train], labels[train]), "val": (images[val], labels[val]), "test": pools["test"]}
        self.splits = {split: self._sets(*part) for split, part in parts.items()}
        self.sources = {"train": rest[train], "val": rest[val], "test": test}

    def describe(self, split: str, index: int) -> dict[str, Any]:
        """The image's index in the dataset as published (scikit-learn's digits; the MNIST or CIFAR-10 file)."""
        return {"image": int(self.sources[split][index])}

    def edges(self, batch: VectorSet) -> Tensor:
        """Each pixel (or patch) joined to its 4 or 8 neighbours on the grid."""
        return grid_edges(batch.mask, self.grid, self.edge_neighbours)

    def input_encoder(self, dim: int) -> nn.Module:
        return StandardizedProjection.fit(self.splits["train"].x, dim)

    def draw_attention(
        self, example: VectorSet, rows: AttentionRows, title: str, queries: int, max_elements: int
    ) -> Figure:
        """The image beside the attention of up to five query pixels (the centre, then the corners), as heatmaps."""
        return attention_figure(example.x[0], rows, self.grid, self.patch, title, queries)

    def _sets(self, images: np.ndarray, labels: np.ndarray) -> ImageSets:
        x = to_patches(torch.from_numpy(np.ascontiguousarray(images)), self.patch)
        return ImageSets(x, torch.from_numpy(labels).long(), self.grid)

    def _stratified_split(
        self, labels: np.ndarray, fraction: float, index: np.ndarray, key: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Splits ``index`` (positions into ``labels``' source) into (1 - fraction, fraction), stratified.

        ``key`` is the option that set the fraction: both parts must hold an image of every class.
        """
        n, classes = len(labels), len(np.unique(labels))
        second = math.ceil(fraction * n)  # scikit-learn's rounding
        if min(second, n - second) < classes:
            kept = key == "train_fraction"  # the share kept, not the one split off
            raise ConfigError(
                key,
                getattr(self, key),
                f"{'keeps' if kept else 'holds out'} {n - second if kept else second:,} of {n:,} images of {classes} "
                f"classes; a stratified split needs every class on both sides: use a value from "
                f"{math.ceil(100 * classes / n) / 100} to {math.floor(100 * (1 - classes / n)) / 100}"
                f"{' (or 1)' if kept else ''}",
            )
        return train_test_split(index, test_size=fraction, stratify=labels, random_state=self.seed)

    @staticmethod
    def _digits() -> Images:
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.images.astype(np.uint8)[..., None], digits.target.astype(np.int64)
