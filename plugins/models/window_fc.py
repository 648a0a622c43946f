"""Window-FC: the lecture's first tagging baseline, a fully-connected network over a window of ±k elements."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from framework import Encoder, Layout, ModalitySpec, ModelRequirement, VectorSet, hidden_layers, require, require_fits


class WindowFCEncoder(Encoder):
    """Each element's output is an MLP of the concatenated vectors at positions ``i-k .. i+k``.

    Positions outside the set or on padding contribute zero vectors, so an element sees exactly
    its ``2k + 1`` neighbours and nothing else; padding never reaches a real output.

    Args:
        spec: the modality this encoder is built for.
        dim: width of the input and output vectors.
        window: ``k``, neighbours on each side (0 = the element alone).
        hidden: width of the hidden layers.
        layers: number of hidden layers of the MLP.
        dropout: dropout after each hidden layer.
    """

    requires = ModelRequirement(layouts=frozenset({Layout.SEQUENCE}))
    width_key = "hidden"  # the hidden layers hold nearly all its weights; dim is only the embedding width

    def __init__(self, spec: ModalitySpec, dim: int, window: int, hidden: int, layers: int, dropout: float) -> None:
        require(dim > 0, "dim", dim, "must be a positive integer")
        require(window >= 0, "window", window, "must be 0 or more (neighbours on each side)")
        require(hidden > 0, "hidden", hidden, "must be a positive integer")
        require(layers > 0, "layers", layers, "must be a positive integer")
        require(0 <= dropout < 1, "dropout", dropout, "must be in [0, 1)")
        require_fits(
            {"hidden": hidden, "window": window, "layers": layers, "dim": dim},
            (2 * window + 2) * dim * hidden + (layers - 1) * hidden**2,
        )
        super().__init__(spec, dim)
        self.window = window
        stack = hidden_layers((2 * window + 1) * dim, hidden, layers, nn.GELU, dropout)
        self.mlp = nn.Sequential(*stack, nn.Linear(hidden, dim), nn.LayerNorm(dim))

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        k = self.window
        h = h.masked_fill(~batch.mask.unsqueeze(-1), 0.0)
        windows = F.pad(h, (0, 0, k, k)).unfold(1, 2 * k + 1, 1)  # [B, N, D, 2k+1]
        return self.mlp(windows.transpose(2, 3).flatten(2))  # concatenated in position order
