"""Attention maps as pictures: the heatmap every modality's ``draw_attention`` can build on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.viz.figures import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from torch import Tensor


def matrix_figure(
    weights: Tensor,
    title: str,
    size: tuple[float, float],
    key_label: str,
    query_label: str,
    extent: tuple[float, float, float, float] | None = None,
) -> tuple[Figure, Axes]:
    """A figure showing ``weights`` ``[Q, N]`` as a heatmap (queries down, keys across) with a colour bar."""
    figure = new_figure(*size)
    axes = figure.subplots()
    image = axes.imshow(weights.numpy(), cmap="viridis", vmin=0, interpolation="nearest", extent=extent, aspect="auto")
    figure.colorbar(image, ax=axes, label="attention weight")
    axes.set(xlabel=key_label, ylabel=query_label)
    figure.suptitle(title, fontsize=9)
    return figure, axes
