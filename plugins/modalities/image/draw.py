"""Pictures of attention on images: the image beside the weights of a few query pixels, as heatmaps on its grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from framework import AttentionRows, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def query_cells(grid: tuple[int, int], queries: int) -> list[tuple[int, int]]:
    """Up to five (row, col) cells of ``grid``, in turn: the centre, then the four corners."""
    height, width = grid
    return [(height // 2, width // 2), (0, 0), (0, width - 1), (height - 1, 0), (height - 1, width - 1)][:queries]


def attention_figure(
    x: Tensor, rows: AttentionRows, grid: tuple[int, int], patch: int, title: str, queries: int
) -> Figure:
    """The image beside the attention of up to five query cells (see :func:`query_cells`) over it, as heatmaps.

    Args:
        x: one image's cells (pixels or patches), as the modality's batches hold them.
        rows: ``rows(positions)``, the weights of the cells at ``positions`` (raster order) over all cells.
        grid: (height, width) of the grid of cells.
        patch: side of a cell in pixels (1 = one cell per pixel).
        title: the figure's title.
        queries: how many query cells to show (at most five).

    Shapes:
        x: ``[height·width, patch·patch·C]``
        rows: positions ``[Q]`` → weights ``[Q, height·width]``
    """
    height, width = grid
    cells = query_cells(grid, queries)
    maps = rows(torch.tensor([row * width + col for row, col in cells])).view(-1, height, width)
    figure = new_figure(2.2 * (1 + len(cells)) + 0.8, 2.8)
    axes = figure.subplots(1, 1 + len(cells))
    image = picture(x, grid, patch)
    axes[0].imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
    axes[0].set_title("image", fontsize=8)
    extent = (-0.5, width * patch - 0.5, height * patch - 0.5, -0.5)  # cells drawn over the image's pixels
    centre = (patch - 1) / 2
    for ax, (row, col), weights in zip(axes[1:], cells, maps):
        shown = ax.imshow(
            weights.numpy(), cmap="viridis", vmin=0, vmax=float(maps.max()), extent=extent, interpolation="nearest"
        )
        ax.set_title(f"query {'pixel' if patch == 1 else 'patch'} ({row}, {col})", fontsize=8)
        for marked in (axes[0], ax):
            marked.plot(col * patch + centre, row * patch + centre, "rx", markersize=6)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.colorbar(shown, ax=list(axes[1:]), label="attention weight", shrink=0.8)
    figure.suptitle(title, fontsize=9)
    return figure


def picture(x: Tensor, grid: tuple[int, int], patch: int) -> np.ndarray:
    """One image's cells (in raster order, as ``to_patches`` makes them) back as its pixels, in ``[0, 1]``.

    Shapes:
        x: ``[height·width, patch·patch·C]``
        output: ``[H, W]`` (grey) or ``[H, W, 3]`` (colour), ``H = height·patch``, ``W = width·patch``
    """
    height, width = grid
    pixels = x.view(height, width, patch, patch, -1).permute(0, 2, 1, 3, 4).reshape(height * patch, width * patch, -1)
    pixels = (pixels / pixels.max().clamp_min(1)).numpy()
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels
