"""Graph neural network encoder on PyG's message-passing layers, over any modality that has edges."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, SAGEConv

from framework import Encoder, Layout, ModalitySpec, ModelRequirement, VectorSet, one_of, require, require_fits

CONVS = ("gcn", "gat", "sage")
NORMS = {"none": nn.Identity, "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}
ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU}


def make_conv(conv: str, width_in: int, width_out: int, heads: int, dropout: float, concat: bool = True) -> nn.Module:
    """One ``width_in → width_out`` message-passing layer.

    GAT concatenates ``heads`` heads of ``width_out / heads``, or with ``concat=False`` averages
    ``heads`` heads of ``width_out`` (the GAT paper's output layer).
    """
    if conv == "gcn":
        return GCNConv(width_in, width_out)
    if conv == "gat":
        per_head = width_out // heads if concat else width_out
        return GATConv(width_in, per_head, heads=heads, dropout=dropout, concat=concat)
    return SAGEConv(width_in, width_out)


class GraphLayer(nn.Module):
    """``act(norm(conv(dropout(h), edges)))``, plus ``h`` when ``residual``; ``act`` and ``norm`` may be identities."""

    def __init__(self, conv: nn.Module, dropout: float, norm: nn.Module, act: nn.Module, residual: bool) -> None:
        super().__init__()
        self.dropout, self.conv, self.norm, self.act = nn.Dropout(dropout), conv, norm, act
        self.residual = residual

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        out = self.act(self.norm(self.conv(self.dropout(h), edge_index)))
        return h + out if self.residual else out


class GraphEncoder(Encoder):
    """A stack of GCN, GAT or GraphSAGE layers along the batch's edges.

    The padded batch is flattened to ``B * N`` nodes, the numbering ``edge_index`` uses; padded
    elements have no edges, so they never reach a real element. By default every layer maps
    ``dim → dim`` on the modality's shared encoding; with ``inputs=raw`` the first layer reads the
    modality's raw features and with ``output=classes`` the last layer outputs the class scores,
    which together give the papers' models (GCN: ``F → 16 → C``; GAT: ``F → 8 × 8 → C``).

    Args:
        spec: the modality this encoder is built for (it must provide edges).
        dim: width of every hidden node vector.
        layers: message-passing layers; each widens the receptive field by one hop.
        conv: ``gcn`` (Kipf & Welling), ``gat`` (Veličković et al.) or ``sage`` (Hamilton et al., mean).
        heads: attention heads of ``gat``'s hidden layers (concatenated); must divide ``dim``.
        out_heads: attention heads of ``gat``'s output layer with ``output=classes`` (averaged).
        dropout: dropout on each layer's input (and on GAT's attention weights).
        norm: ``none``, ``layer`` or ``batch`` normalisation after each hidden layer.
        residual: add each layer's input to its output where their widths agree.
        activation: ``elu`` or ``relu``, after each hidden layer.
        inputs: ``shared`` (the modality's encoding to ``dim``) or ``raw`` (its raw features).
        output: ``vector`` (``dim`` per node, then the run's linear head) or ``classes`` (the class scores).
    """

    requires = ModelRequirement(layouts=frozenset(Layout), needs_edges=True)
    width_key = "dim"

    def __init__(
        self,
        spec: ModalitySpec,
        dim: int,
        layers: int,
        conv: str,
        heads: int,
        out_heads: int,
        dropout: float,
        norm: str,
        residual: bool,
        activation: str,
        inputs: str,
        output: str,
    ) -> None:
        require(dim > 0, "dim", dim, "must be a positive integer")
        require(layers > 0, "layers", layers, "must be a positive integer")
        one_of("conv", conv, CONVS)
        require(heads > 0 and dim % heads == 0, "heads", heads, f"must be a positive divisor of dim={dim}")
        require(out_heads > 0, "out_heads", out_heads, "must be a positive integer")
        require(0 <= dropout < 1, "dropout", dropout, "must be in [0, 1)")
        one_of("norm", norm, NORMS)
        one_of("activation", activation, ACTIVATIONS)
        super().__init__(spec, dim)
        width_in, width_out = self.end_widths(inputs, output)
        ends = width_in * width_out if layers == 1 else (width_in + width_out) * dim + (layers - 2) * dim**2
        require_fits({"dim": dim, "layers": layers}, ends)  # the weights, before the list of widths is built
        widths = [width_in] + [dim] * (layers - 1) + [width_out]
        self.layers = nn.ModuleList()
        for index, (reads, writes) in enumerate(zip(widths, widths[1:])):
            scores = self.classifies and index == layers - 1  # the output layer: no activation, no norm
            self.layers.append(
                GraphLayer(
                    make_conv(conv, reads, writes, out_heads if scores else heads, dropout, concat=not scores),
                    dropout,
                    nn.Identity() if scores else NORMS[norm](writes),
                    nn.Identity() if scores else ACTIVATIONS[activation](),
                    residual and reads == writes,
                )
            )

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        B, N, _ = h.shape
        h = h.reshape(B * N, -1)  # [B·N, D or F]
        for layer in self.layers:
            h = layer(h, batch.edge_index)
        return h.view(B, N, -1)  # [B, N, D or C]
