"""Graph neural network encoder on PyG's message-passing layers, over any modality that has edges."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, SAGEConv

from framework import Encoder, Layout, ModalitySpec, ModelRequirement, VectorSet, one_of, require

CONVS = ("gcn", "gat", "sage")
NORMS = {"none": nn.Identity, "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}


def make_conv(conv: str, dim: int, heads: int, dropout: float) -> nn.Module:
    """One ``dim → dim`` message-passing layer (GAT concatenates ``heads`` heads of ``dim / heads``)."""
    if conv == "gcn":
        return GCNConv(dim, dim)
    if conv == "gat":
        return GATConv(dim, dim // heads, heads=heads, dropout=dropout)
    return SAGEConv(dim, dim)


class GraphLayer(nn.Module):
    """``act(norm(conv(dropout(h), edges)))``, added to ``h`` when ``residual``."""

    def __init__(self, conv: nn.Module, dim: int, dropout: float, norm: str, residual: bool) -> None:
        super().__init__()
        self.dropout, self.conv, self.norm, self.act = nn.Dropout(dropout), conv, NORMS[norm](dim), nn.ELU()
        self.residual = residual

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        out = self.act(self.norm(self.conv(self.dropout(h), edge_index)))
        return h + out if self.residual else out


class GraphEncoder(Encoder):
    """A stack of GCN, GAT or GraphSAGE layers along the batch's edges.

    The padded batch is flattened to ``B * N`` nodes, the numbering ``edge_index`` uses; padded
    elements have no edges, so they never reach a real element.

    Args:
        spec: the modality this encoder is built for (it must provide edges).
        dim: width of every node vector.
        layers: message-passing layers; each widens the receptive field by one hop.
        conv: ``gcn`` (Kipf & Welling), ``gat`` (Veličković et al.) or ``sage`` (Hamilton et al., mean).
        heads: attention heads of ``gat``; must divide ``dim``.
        dropout: dropout on each layer's input (and on GAT's attention weights).
        norm: ``none``, ``layer`` or ``batch`` normalisation after each layer.
        residual: add each layer's input to its output.
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
        dropout: float,
        norm: str,
        residual: bool,
    ) -> None:
        require(dim > 0, "dim", dim, "must be a positive integer")
        require(layers > 0, "layers", layers, "must be a positive integer")
        one_of("conv", conv, CONVS)
        require(heads > 0 and dim % heads == 0, "heads", heads, f"must be a positive divisor of dim={dim}")
        require(0 <= dropout < 1, "dropout", dropout, "must be in [0, 1)")
        one_of("norm", norm, NORMS)
        super().__init__(spec, dim)
        self.layers = nn.ModuleList(
            GraphLayer(make_conv(conv, dim, heads, dropout), dim, dropout, norm, residual) for _ in range(layers)
        )

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        B, N, D = h.shape
        h = h.reshape(B * N, D)
        for layer in self.layers:
            h = layer(h, batch.edge_index)
        return h.view(B, N, D)
