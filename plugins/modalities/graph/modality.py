"""Transductive node classification: the whole graph is one vector set, split masks pick the labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from framework import (
    IGNORE_INDEX,
    AttentionRows,
    DataError,
    Layout,
    Modality,
    ModalitySpec,
    Target,
    VectorSet,
    check_options,
    normalize_edges,
    one_of,
    require,
)
from plugins.modalities.graph import planetoid
from plugins.modalities.graph.draw import attention_figure
from plugins.modalities.graph.sbm import generate as generate_sbm

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DATASETS = (*planetoid.NAMES, "sbm")
CLASSES = {name: classes for name, (_, _, classes) in planetoid.SHAPES.items()}
FEATURES = {name: features for name, (_, features, _) in planetoid.SHAPES.items()}


class GraphSplit(Dataset):
    """The one graph, with the labels of one split (every other node's label is ``IGNORE_INDEX``)."""

    def __init__(self, x: Tensor, edge_index: Tensor, y: Tensor, split_mask: Tensor) -> None:
        self.batch = VectorSet(
            x=x[None],
            mask=torch.ones(1, len(x), dtype=torch.bool),
            y=y.masked_fill(~split_mask, IGNORE_INDEX)[None],
            edge_index=edge_index,
        )

    def __len__(self) -> int:
        return 1

    def __getitems__(self, indices: list[int]) -> VectorSet:
        return self.batch


class NodeFeatures(nn.Module):
    """The raw node features after dropout (sparse bag-of-words overfit fast): what a raw-input model reads."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, batch: VectorSet) -> Tensor:
        return self.dropout(batch.x)  # [1, N, F]


class NodeFeatureEncoder(NodeFeatures):
    """The raw node features after dropout, projected to ``dim``: the shared encoding every model gets by default."""

    def __init__(self, features: int, dim: int, dropout: float) -> None:
        super().__init__(dropout)
        self.proj = nn.Linear(features, dim)

    def forward(self, batch: VectorSet) -> Tensor:
        return self.proj(super().forward(batch))  # [1, N, dim]


def first_of_each_class(labels: Tensor) -> Tensor:
    """The labelled nodes (``labels`` ``[N]``, ``IGNORE_INDEX`` = none) in turns over the classes.

    Within each class they come by index.
    """
    labelled = (labels != IGNORE_INDEX).nonzero().flatten()
    classes = labels[labelled]
    by_class = torch.argsort(classes, stable=True)
    rank = torch.empty_like(by_class)  # how many labelled nodes of the same class come before
    rank[by_class] = torch.arange(len(by_class)) - torch.searchsorted(classes[by_class], classes[by_class])
    return labelled[torch.argsort(rank * (int(classes.max()) + 1) + classes, stable=True)]


def checked(x: Tensor, y: Tensor, edge_index: Tensor, masks: dict[str, Tensor], source: str) -> Tensor:
    """Validates a graph read from ``source`` and returns its edges without self-loops or repeats."""
    nodes = len(x)
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= nodes):
        raise DataError(
            f"{source}: edge indices must lie in [0, {nodes}), found [{int(edge_index.min())}, {int(edge_index.max())}]"
        )
    for split, mask in masks.items():
        if not bool(mask.any()):
            raise DataError(f"{source}: the {split} split has no node; the split masks are wrong")
    if len(y) != nodes:
        raise DataError(f"{source}: {len(y)} labels for {nodes} nodes")
    return normalize_edges(edge_index, nodes)


class GraphModality(Modality):
    """Node classification on one graph: Planetoid citation networks or a generated SBM.

    Args:
        dataset: ``cora``, ``citeseer``, ``pubmed`` (public split) or ``sbm`` (generated).
        normalize_features: scale each node's features to unit L1 norm (as GCN and GAT do on bag-of-words).
        input_dropout: dropout on the raw node features before the projection.
        sbm: settings of the generated graph: ``blocks``, ``block_size``, ``p_in``, ``p_out``,
            ``features``, ``signal``, ``train_per_class``, ``val_fraction``.
        data_seed: fixes the generated graph, independently of the training seed.
        attention_scope: the scope attending models use on graphs (``graph`` or ``full``).
        **loader: see :class:`~framework.Modality` (the batch is always the one graph).
    """

    def __init__(
        self,
        name: str,
        dataset: str,
        normalize_features: bool,
        input_dropout: float,
        sbm: dict,
        data_seed: int,
        attention_scope: str,
        **loader,
    ) -> None:
        super().__init__(name=name, batch_size=1, eval_batch_size=1, **loader)
        one_of("dataset", dataset, DATASETS)
        require(0 <= input_dropout < 1, "input_dropout", input_dropout, "must be in [0, 1)")
        check_options(generate_sbm, sbm, "sbm", supplied=["seed"])  # the generator's keys, each of its annotated type
        require(sbm["blocks"] >= 2, "sbm.blocks", sbm["blocks"], "must be 2 or more")
        require(
            sbm["block_size"] > sbm["train_per_class"] > 0,
            "sbm.train_per_class",
            sbm["train_per_class"],
            f"must be in [1, block_size={sbm['block_size']})",
        )
        for key in ("p_in", "p_out"):
            require(0 <= sbm[key] <= 1, f"sbm.{key}", sbm[key], "is a probability: must be in [0, 1]")
        require(sbm["features"] > 0, "sbm.features", sbm["features"], "must be a positive integer")
        require(0 < sbm["val_fraction"] < 1, "sbm.val_fraction", sbm["val_fraction"], "must be in (0, 1)")
        self.dataset, self.normalize_features, self.input_dropout = dataset, normalize_features, input_dropout
        self.sbm_settings, self.data_seed, self.attention_scope = sbm, data_seed, attention_scope
        self.num_features = 0
        self.classes = torch.empty(0, dtype=torch.long)  # every node's class (all splits), for pictures

    @property
    def spec(self) -> ModalitySpec:
        return ModalitySpec(
            name=self.name,
            dataset=self.dataset,
            layout=Layout.GRAPH,
            target=Target.ELEMENT,
            num_classes=self.sbm_settings["blocks"] if self.dataset == "sbm" else CLASSES[self.dataset],
            scopes=("graph", "full"),
            max_positions=1,  # nodes have no order
            has_edges=True,
            element="node",
            raw_features=self.sbm_settings["features"] if self.dataset == "sbm" else FEATURES[self.dataset],
        )

    def provide_edges(self) -> None:
        """A graph's batches always carry its own edges."""

    def prepare_data(self) -> None:
        if self.dataset != "sbm":
            planetoid.raw_files(self.dataset, self.data_dir)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        if self.dataset == "sbm":
            data, source = generate_sbm(**self.sbm_settings, seed=self.data_seed), "generated sbm graph"
        else:
            data, source = (
                planetoid.load(self.dataset, self.data_dir, self.cache_dir),
                f"{planetoid.NAMES[self.dataset]} in {self.data_dir / 'planetoid'}",
            )
        masks = {"train": data.train_mask, "val": data.val_mask, "test": data.test_mask}
        edge_index = checked(data.x, data.y, data.edge_index, masks, source)
        x = data.x.float()
        if self.normalize_features:
            x = x / x.abs().sum(dim=1, keepdim=True).clamp_min(1e-12)
        self.num_features, self.classes = x.shape[1], data.y
        self.splits = {split: GraphSplit(x, edge_index, data.y, mask) for split, mask in masks.items()}

    def input_encoder(self, dim: int) -> nn.Module:
        return NodeFeatureEncoder(self.num_features, dim, self.input_dropout)

    def raw_input(self) -> nn.Module:
        return NodeFeatures(self.input_dropout)

    def draw_attention(
        self, example: VectorSet, rows: AttentionRows, title: str, queries: int, max_elements: int
    ) -> Figure:
        """For ``queries`` labelled nodes of the split, a bar per weight on the node itself and on each neighbour.

        The nodes are taken from each class in turn, so several classes show. Bars run highest first
        (at most ``max_elements``), each labelled ``node id (class)`` and coloured by class; a panel's
        title gives the share of the weight its neighbourhood holds (all of it under the ``graph``
        scope, less under ``full``).
        """
        nodes = first_of_each_class(example.y[0])[:queries]
        return attention_figure(nodes, example.edge_index, self.classes, rows, title, max_elements)
