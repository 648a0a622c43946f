"""Pictures of attention on a graph: for a few nodes, a bar per weight on the node itself and on each neighbour."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from framework import AttentionRows, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def attention_figure(
    nodes: Tensor, edge_index: Tensor, classes: Tensor, rows: AttentionRows, title: str, max_elements: int
) -> Figure:
    """One panel per node of ``nodes``: a bar per weight on the node itself and on each neighbour.

    Bars run highest first (at most ``max_elements``), each labelled ``node id (class)`` and
    coloured by class; a panel's title gives the share of the weight its neighbourhood holds.

    Args:
        nodes: the query nodes, one panel each.
        edge_index: the graph's edges (source, target); a node's neighbours are the sources of its edges.
        classes: every node's class.
        rows: ``rows(nodes)``, the weights of ``nodes`` over all ``N`` nodes.
        title: the figure's title.
        max_elements: the most bars a panel shows.

    Shapes:
        nodes: ``[Q]``
        edge_index: ``[2, E]``
        classes: ``[N]``
        rows: positions ``[Q]`` → weights ``[Q, N]``
    """
    source, target = edge_index
    neighbourhoods = [torch.cat([node[None], source[target == node]]) for node in nodes]
    bars = min(max_elements, max(len(keys) for keys in neighbourhoods))
    figure = new_figure(3.4 * len(nodes), min(2.2 + 0.22 * bars, 16))
    panels = figure.subplots(1, len(nodes), squeeze=False)[0]
    for ax, node, keys, row in zip(panels, nodes.tolist(), neighbourhoods, rows(nodes)):
        shown = keys[row[keys].argsort(descending=True)][:max_elements].tolist()
        ax.barh(range(len(shown)), row[shown].numpy(), color=[f"C{int(classes[k]) % 10}" for k in shown])
        names = [f"{'itself ' if k == node else ''}{k} ({int(classes[k])})" for k in shown]
        ax.set_yticks(range(len(shown)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("attention weight")
        ax.set_title(
            f"node {node} (class {int(classes[node])}), {len(keys) - 1} neighbours:\n"
            f"{float(row[keys].sum()):.0%} of its weight",
            fontsize=8,
        )
    figure.suptitle(title, fontsize=9)
    return figure
