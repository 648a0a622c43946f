"""Recurrent encoder: LSTM or GRU over sequences, and over images in raster order."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from framework import Encoder, Layout, ModalitySpec, ModelRequirement, VectorSet, one_of, require, require_fits

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentEncoder(Encoder):
    """A (bi)directional LSTM/GRU; padding is packed away so it never reaches real outputs.

    Sets must be padded at the end (real elements first), as sequence and grid layouts are.

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

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        N = h.shape[1]
        lengths = batch.lengths
        if bool((lengths == N).all()):  # nothing to pack (fixed-size grids)
            return self.norm(self.rnn(h)[0])
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=N)
        return self.norm(out)
