"""The per-element MLP: the lecture's first tagger, the same fully connected network on every element, no context."""

from __future__ import annotations

from torch import Tensor, nn

from framework import (
    Encoder,
    Layout,
    ModalitySpec,
    ModelRequirement,
    VectorSet,
    hidden_layers,
    one_of,
    require,
    require_fits,
)

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "elu": nn.ELU}


class MLPEncoder(Encoder):
    """Each element's output is an MLP of that element's vector alone: what context adds is measured against it.

    With the defaults it is the window-FC tagger with a window of 0 (hidden layers, then a
    projection back to ``dim`` and a LayerNorm), on any layout. With ``inputs=raw`` and
    ``output=classes`` it is the MLP row of the GCN paper: raw features → hidden → class scores.

    Args:
        spec: the modality this encoder is built for.
        dim: width of the shared input vectors and of the output vectors.
        hidden: width of the hidden layers.
        layers: number of hidden layers.
        dropout: dropout after each hidden layer.
        activation: ``gelu``, ``relu`` or ``elu`` after each hidden layer.
        inputs: ``shared`` (the modality's encoding to ``dim``) or ``raw`` (its raw features).
        output: ``vector`` (``dim`` per element, then the run's linear head) or ``classes`` (the class scores).
    """

    requires = ModelRequirement(layouts=frozenset(Layout))
    width_key = "hidden"  # the hidden layers hold nearly all its weights

    def __init__(
        self,
        spec: ModalitySpec,
        dim: int,
        hidden: int,
        layers: int,
        dropout: float,
        activation: str,
        inputs: str,
        output: str,
    ) -> None:
        require(dim > 0, "dim", dim, "must be a positive integer")
        require(hidden > 0, "hidden", hidden, "must be a positive integer")
        require(layers > 0, "layers", layers, "must be a positive integer")
        require(0 <= dropout < 1, "dropout", dropout, "must be in [0, 1)")
        one_of("activation", activation, ACTIVATIONS)
        super().__init__(spec, dim)
        width_in, width_out = self.end_widths(inputs, output)
        sizes = {"hidden": hidden, "layers": layers, "dim": dim}
        require_fits(sizes, (layers - 1) * hidden**2 + (width_in + width_out) * hidden)
        norm = nn.Identity() if self.classifies else nn.LayerNorm(dim)
        stack = hidden_layers(width_in, hidden, layers, ACTIVATIONS[activation], dropout)
        self.mlp = nn.Sequential(*stack, nn.Linear(hidden, width_out), norm)

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        return self.mlp(h)  # [B, N, D or F] → [B, N, D or C], each element alone
