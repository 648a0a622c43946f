"""Recurrent encoder: LSTM or GRU over sequences, and over images in raster order."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from framework import Encoder, Layout, ModalitySpec, ModelRequirement, VectorSet, one_of, require, require_fits

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentEncoder(Encoder):
    """A (bi)directional LSTM/GRU; padding never reaches real outputs.

    Sets must be padded at the end (real elements first), as sequence and grid layouts are, so a
    forward recurrence reads every real element before any padding. The backward direction of a
    padded batch runs packed on a GPU (cuDNN's variable-length kernel) and on CPU layer by layer
    over each sequence reversed within its length: PyTorch's CPU recurrences run packed batches
    several times slower than padded ones.

    Args:
        spec: the modality this encoder is built for.
        dim: width of the input and output vectors.
        layers: stacked recurrent layers.
        cell: ``lstm`` or ``gru``.
        bidirectional: read both directions; each direction then has ``dim / 2`` hidden units.
        dropout: dropout between stacked layers.
    """

    requires = ModelRequirement(layouts=frozenset({Layout.SEQUENCE, Layout.GRID}))
    width_key = "dim"

    def __init__(
        self, spec: ModalitySpec, dim: int, layers: int, cell: str, bidirectional: bool, dropout: float
    ) -> None:
        require(dim > 0, "dim", dim, "must be a positive integer")
        require(layers > 0, "layers", layers, "must be a positive integer")
        # a GRU layer's smallest weights (both directions: 3 gates reading dim inputs and dim/2 states each)
        require_fits({"dim": dim, "layers": layers}, layers * 4 * dim**2)
        one_of("cell", cell, CELLS)
        require(not bidirectional or dim % 2 == 0, "dim", dim, "must be even for a bidirectional RNN")
        require(0 <= dropout < 1, "dropout", dropout, "must be in [0, 1)")
        super().__init__(spec, dim)
        hidden = dim // 2 if bidirectional else dim
        self.rnn = CELLS[cell](
            dim,
            hidden,
            num_layers=layers,
            bidirectional=bidirectional,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.norm = nn.LayerNorm(dim)
        # One layer in one direction, the shape the CPU path runs each of self.rnn's layers and directions through
        # with self.rnn's weights: on the meta device, and in a tuple, so they hold no memory and no parameters.
        self._layers = tuple(
            CELLS[cell](dim if layer == 0 else 2 * hidden, hidden, batch_first=True, device="meta")
            for layer in range(layers)
        )

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        N = h.shape[1]
        lengths = batch.lengths
        if not self.rnn.bidirectional or bool((lengths == N).all()):  # no direction reads padding before a real element
            return self.norm(self.rnn(h)[0])
        if h.is_cuda:
            packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=N)
            return self.norm(out)
        return self.norm(self._both_ways(h, batch))

    def _both_ways(self, h: Tensor, batch: VectorSet) -> Tensor:
        """The bidirectional recurrence of a padded batch, a layer at a time: forward over the batch as it is,
        backward over each sequence reversed within its length (padding stays at the end).

        Shapes:
            h: ``[B, N, D]``
            output: ``[B, N, D]``
        """
        B, N, _ = h.shape
        position = torch.arange(N, device=h.device)
        # [B, N]: each real element's mirror within its sequence, padding in place (a permutation, its own inverse)
        mirror = torch.where(batch.mask, batch.lengths[:, None] - 1 - position, position)
        mirror = (mirror + N * torch.arange(B, device=h.device)[:, None]).flatten()  # [B * N]: as rows of the batch
        x = h
        for layer, shape in enumerate(self._layers):
            ahead = self._layer(shape, f"l{layer}", x)
            behind = self._layer(shape, f"l{layer}_reverse", _Mirrored.apply(x, mirror))
            x = torch.cat([ahead, _Mirrored.apply(behind, mirror)], dim=-1)
            if layer < len(self._layers) - 1:
                x = F.dropout(x, self.rnn.dropout, self.training)
        return x

    def _layer(self, shape: nn.Module, suffix: str, x: Tensor) -> Tensor:
        """Runs ``x`` through ``shape`` (one layer, one direction) with the weights of ``self.rnn`` named
        ``<weight>_<suffix>`` (``weight_ih_l1_reverse``)."""
        weights = {name: getattr(self.rnn, name.replace("l0", suffix)) for name, _ in shape.named_parameters()}
        return functional_call(shape, weights, (x,))[0]


class _Mirrored(torch.autograd.Function):
    """Rows ``[B, N, D]`` reordered by a permutation of the ``B * N`` rows that is its own inverse, so that the
    gradient is reordered by the same permutation (a row copy, where ``gather``'s gradient is a slower scatter-add).

    Shapes:
        x: ``[B, N, D]``; rows: ``[B * N]``
        output: ``[B, N, D]``
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, rows: Tensor) -> Tensor:
        ctx.save_for_backward(rows)
        return x.reshape(-1, x.shape[-1]).index_select(0, rows).view(x.shape)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (rows,) = ctx.saved_tensors
        return grad.reshape(-1, grad.shape[-1]).index_select(0, rows).view(grad.shape), None
