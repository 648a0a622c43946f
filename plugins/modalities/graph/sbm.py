"""A stochastic-block-model graph: communities decide the labels, node features alone are weak."""

from __future__ import annotations

import torch
from torch_geometric.data import Data
from torch_geometric.utils import stochastic_blockmodel_graph


def generate(
    blocks: int,
    block_size: int,
    p_in: float,
    p_out: float,
    features: int,
    signal: float,
    train_per_class: int,
    val_fraction: float,
    seed: int,
) -> Data:
    """One undirected SBM graph, labelled by block, with Planetoid-style masks.

    Node features are a unit Gaussian plus ``signal`` times a one-hot-like class mean, so with a
    small ``signal`` a node's own features barely tell its class and its neighbours must.
    ``train_per_class`` nodes of each block are labelled for training, ``val_fraction`` of the
    rest validate, and the remaining nodes are the test set; everything follows ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
    probs = torch.full((blocks, blocks), p_out).fill_diagonal_(p_in)
    with torch.random.fork_rng(devices=[]):  # PyG's generator draws from the global RNG
        torch.manual_seed(seed)
        edge_index = stochastic_blockmodel_graph([block_size] * blocks, probs)
    y = torch.arange(blocks).repeat_interleave(block_size)
    means = torch.randn(blocks, features, generator=generator)
    x = torch.randn(blocks * block_size, features, generator=generator) + signal * means[y]
    order = torch.randperm(len(y), generator=generator)
    train = torch.zeros(len(y), dtype=torch.bool)
    for block in range(blocks):
        train[order[y[order] == block][:train_per_class]] = True
    rest = order[~train[order]]
    val_count = int(len(rest) * val_fraction)
    val, test = torch.zeros_like(train), torch.zeros_like(train)
    val[rest[:val_count]], test[rest[val_count:]] = True, True
    return Data(x=x, y=y, edge_index=edge_index, train_mask=train, val_mask=val, test_mask=test)
