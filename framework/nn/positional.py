"""Positional encodings added to embedded elements: none, sinusoidal or learned, in 1-D or 2-D."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from framework.core.batch import VectorSet
from framework.core.errors import one_of, require
from framework.core.sizes import require_fits
from framework.core.spec import Layout

KINDS = ("none", "sinusoidal", "learned")
DIMS = ("auto", "1d", "2d")


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """Transformer sinusoids for integer ``positions`` (sin and cos halves).

    Shapes:
        positions: ``[...]``
        output: ``[..., dim]``
    """
    freqs = torch.exp(torch.arange(0, dim, 2, device=positions.device) * (-math.log(10000.0) / dim))  # [dim / 2]
    angles = positions.unsqueeze(-1).float() * freqs  # [..., dim / 2]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class PositionalEncoding(nn.Module):
    """Adds a position vector ``e_i`` to each element vector ``a_i``.

    Args:
        kind: ``none`` (order-blind), ``sinusoidal`` (fixed) or ``learned`` (a table). On a graph
            layout the nodes have no order, so every kind adds nothing there (structure reaches a
            model through the edges instead).
        dims: ``1d`` uses a sequence index, ``2d`` a grid (row, col) with half the width for
            each axis; ``auto`` picks ``2d`` for grid layouts and ``1d`` otherwise. A grid read
            in ``1d`` uses the raster index.
        dim: element width.
        layout: the modality's layout.
        max_positions: ``L`` or ``(H, W)``; sizes the learned tables.
    """

    def __init__(self, kind: str, dims: str, dim: int, layout: Layout, max_positions: int | tuple[int, int]):
        super().__init__()
        one_of("kind", kind, KINDS)
        if layout is Layout.GRAPH:
            kind = "none"
        one_of("dims", dims, DIMS)
        if dims == "auto":
            dims = "2d" if layout is Layout.GRID else "1d"
        require(dims == "1d" or layout is Layout.GRID, "dims", dims, f"2d needs a grid layout, not {layout.value}")
        axes = 2 if dims == "2d" else 1
        multiple = 2 * axes if kind == "sinusoidal" else axes  # sinusoids split each axis into sin and cos
        require(
            dim % multiple == 0,
            "kind",
            kind,
            f"a {dims} {kind} encoding needs a width divisible by {multiple}, got {dim}",
        )
        per_axis = dim // axes
        self.kind, self.dims = kind, dims
        self.grid_shape = max_positions if isinstance(max_positions, tuple) else None
        length = math.prod(max_positions) if isinstance(max_positions, tuple) else max_positions
        if kind == "learned":
            sizes = self.grid_shape if dims == "2d" else (length,)
            require_fits({"dim": dim}, sum(sizes) * per_axis)
            self.tables = nn.ModuleList(nn.Embedding(size, per_axis) for size in sizes)
            for table in self.tables:
                nn.init.normal_(table.weight, std=0.02)
        self.per_axis = per_axis

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        """Returns ``h + e`` (``h`` unchanged for ``none``).

        Shapes:
            h: ``[B, N, dim]``
            batch.pos: ``[B, N]`` or ``[B, N, 2]``; None: the sequence index
            output: ``[B, N, dim]``
        """
        if self.kind == "none":
            return h
        axes = self._axes(batch)
        if self.kind == "sinusoidal":
            parts = [sinusoid(axis, self.per_axis) for axis in axes]
        else:
            parts = [table(axis) for table, axis in zip(self.tables, axes)]
        return h + torch.cat(parts, dim=-1).to(h.dtype)  # parts: one [B, N, per_axis] per axis

    def _axes(self, batch: VectorSet) -> list[Tensor]:
        """Integer positions per axis, each ``[B, N]``."""
        pos = batch.pos
        if pos is None:
            pos = torch.arange(batch.mask.shape[1], device=batch.mask.device).expand_as(batch.mask)
        if pos.dim() == 2:
            return [pos]
        if self.dims == "2d":
            return [pos[..., 0], pos[..., 1]]
        width = (batch.grid or self.grid_shape)[1]
        return [pos[..., 0] * width + pos[..., 1]]
