"""Convolutional encoder: 2-D convolutions on grids, 1-D convolutions on sequences."""

from __future__ import annotations

from torch import Tensor, nn

from framework import Encoder, Layout, ModalitySpec, ModelRequirement, VectorSet, require, require_fits


class ConvBlock(nn.Module):
    """``h + Dropout(GELU(Conv(LN(h))))`` with same-length ('same' padded) output."""

    def __init__(self, dim: int, kernel_size: int, dropout: float, conv: type[nn.Module]) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = conv(dim, dim, kernel_size, padding="same")
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        # Padded elements are zeroed before each convolution, so they never reach real outputs.
        x = self.norm(h).masked_fill(~batch.mask.unsqueeze(-1), 0.0)
        return h + self.dropout(self.act(self._convolve(x, batch.grid)))

    def _convolve(self, x: Tensor, grid: tuple[int, int] | None) -> Tensor:
        """Convolves ``[B, N, D]`` as a sequence, or as an ``H×W`` image when ``grid`` is given."""
        B, N, D = x.shape
        if grid is None:
            return self.conv(x.transpose(1, 2)).transpose(1, 2)
        return self.conv(x.transpose(1, 2).reshape(B, D, *grid)).reshape(B, D, N).transpose(1, 2)


class ConvEncoder(Encoder):
    """A stack of residual convolution blocks; the receptive field grows by ``kernel_size - 1`` per layer.

    Args:
        spec: the modality this encoder is built for (a grid gets 2-D convolutions).
        dim: channels of every element vector.
        layers: number of convolution blocks.
        kernel_size: odd kernel side (k×k on grids, k on sequences).
        dropout: dropout after each convolution.
    """

    requires = ModelRequirement(layouts=frozenset({Layout.SEQUENCE, Layout.GRID}))
    width_key = "dim"

    def __init__(self, spec: ModalitySpec, dim: int, layers: int, kernel_size: int, dropout: float) -> None:
        require(dim > 0, "dim", dim, "must be a positive integer")
        require(layers > 0, "layers", layers, "must be a positive integer")
        require(kernel_size > 0 and kernel_size % 2 == 1, "kernel_size", kernel_size, "must be a positive odd integer")
        require(0 <= dropout < 1, "dropout", dropout, "must be in [0, 1)")
        taps = kernel_size**2 if spec.layout is Layout.GRID else kernel_size
        require_fits({"dim": dim, "layers": layers, "kernel_size": kernel_size}, layers * taps * dim**2)
        super().__init__(spec, dim)
        conv = nn.Conv2d if spec.layout is Layout.GRID else nn.Conv1d
        self.blocks = nn.ModuleList(ConvBlock(dim, kernel_size, dropout, conv) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        for block in self.blocks:
            h = block(h, batch)
        return self.norm(h)
