"""The papers' models: raw features in, class scores out (GCN, GAT, the MLP), and the MLP as window-FC with window 0."""

from __future__ import annotations

import torch

from framework.core.batch import VectorSet
from framework.core.spec import Layout, ModalitySpec, Target
from framework.nn.edges import normalize_edges
from plugins.models.gnn import GraphEncoder
from plugins.models.mlp import MLPEncoder
from plugins.models.window_fc import WindowFCEncoder

GRAPH = ModalitySpec(
    "graph", "toy", Layout.GRAPH, Target.ELEMENT, 3, scopes=("graph",), max_positions=1, has_edges=True, raw_features=10
)
PAPER = {"inputs": "raw", "output": "classes"}


def graph(nodes: int = 6) -> VectorSet:
    ring = torch.stack([torch.arange(nodes), (torch.arange(nodes) + 1) % nodes])
    return VectorSet(
        x=torch.randn(1, nodes, GRAPH.raw_features),
        mask=torch.ones(1, nodes, dtype=torch.bool),
        y=torch.zeros(1, nodes, dtype=torch.long),
        edge_index=normalize_edges(torch.cat([ring, ring.flip(0)], dim=1), nodes),
    )


def gnn(**options) -> GraphEncoder:
    defaults = dict(dim=16, layers=2, conv="gcn", heads=8, out_heads=1, dropout=0.5, norm="none", residual=False)
    return GraphEncoder(GRAPH, **(defaults | {"activation": "relu", "inputs": "shared", "output": "vector"} | options))


def test_the_gcn_of_the_paper_maps_raw_features_to_hidden_units_to_class_scores():
    model = gnn(**PAPER).eval()
    assert model.classifies and GraphEncoder.requirement(**PAPER).raw_inputs
    first, second = (layer.conv for layer in model.layers)
    assert (first.in_channels, first.out_channels, second.in_channels, second.out_channels) == (10, 16, 16, 3)
    batch = graph()
    assert model(batch.x, batch).shape == (1, 6, 3)


def test_the_gat_of_the_paper_concatenates_eight_heads_then_averages_the_output_heads():
    model = gnn(conv="gat", dim=64, out_heads=2, activation="elu", **PAPER).eval()
    first, second = (layer.conv for layer in model.layers)
    assert (first.heads, first.out_channels, first.concat) == (8, 8, True)
    assert (second.heads, second.out_channels, second.concat) == (2, 3, False)
    batch = graph()
    assert model(batch.x, batch).shape == (1, 6, 3)


def test_the_output_layer_has_no_activation_so_scores_can_be_negative():
    torch.manual_seed(0)
    model = gnn(**PAPER).eval()
    batch = graph()
    assert (model(batch.x, batch) < 0).any()


def test_the_mlp_of_the_paper_maps_each_node_alone():
    model = MLPEncoder(GRAPH, dim=64, hidden=16, layers=1, dropout=0.5, activation="relu", **PAPER).eval()
    batch = graph()
    alone = model(batch.x[:, :1], batch)  # one node, no others: the same output
    assert torch.allclose(model(batch.x, batch)[:, :1], alone) and alone.shape == (1, 1, 3)


def test_by_default_the_mlp_is_the_window_fc_with_window_zero():
    sequence = ModalitySpec("text", "toy", Layout.SEQUENCE, Target.ELEMENT, 5, scopes=("full",), max_positions=16)
    torch.manual_seed(0)
    mlp = MLPEncoder(
        sequence, dim=8, hidden=32, layers=2, dropout=0.0, activation="gelu", inputs="shared", output="vector"
    )
    torch.manual_seed(0)
    window = WindowFCEncoder(sequence, dim=8, window=0, hidden=32, layers=2, dropout=0.0)
    h = torch.randn(2, 7, 8)
    batch = VectorSet(x=h, mask=torch.ones(2, 7, dtype=torch.bool), y=torch.zeros(2, 7, dtype=torch.long))
    torch.testing.assert_close(mlp.eval()(h, batch), window.eval()(h, batch))
