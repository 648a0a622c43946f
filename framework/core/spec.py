"""What a modality offers and what a model needs, declared without loading any data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Layout(str, Enum):
    """How the elements of a set are arranged."""

    SEQUENCE = "sequence"  # ordered 1-D: words, frames
    GRID = "grid"  # 2-D raster: pixels or patches
    GRAPH = "graph"  # nodes joined by edges


class Target(str, Enum):
    """What is labelled: every element (tagging, frames, nodes) or the whole set (a class)."""

    ELEMENT = "element"
    SET = "set"


@dataclass(frozen=True)
class ModalitySpec:
    """What a modality provides to models.

    Attributes:
        name: the modality's config name (``image``).
        dataset: the dataset in use (``digits``).
        layout: arrangement of the elements.
        target: per-element or per-set labels.
        num_classes: number of label classes.
        scopes: attention scopes that make sense for this data (``full``, ``window`` ...).
        max_positions: largest position, ``L`` for sequences or ``(H, W)`` for grids; sizes
            learned positional tables.
        has_edges: whether batches can carry ``edge_index``: a graph's own edges, or a natural
            graph the modality derives (:meth:`~framework.core.modality.Modality.edges`).
        element: what one element is (``pixel``, ``token``), for reports.
        subsets: names of element subsets scored on their own (``acc_<name>``), in the order
            of the batch's ``subsets`` columns.
        raw_features: width ``F`` of each element's raw feature vector when the modality can hand
            models its raw features (:meth:`~framework.core.modality.Modality.raw_input`), else None.
        class_names: the name of each class (``NOUN``) when the classes have names; empty when a
            class is just its number.
    """

    name: str
    dataset: str
    layout: Layout
    target: Target
    num_classes: int
    scopes: tuple[str, ...]
    max_positions: int | tuple[int, int]
    has_edges: bool = False
    element: str = "element"
    subsets: tuple[str, ...] = ()
    raw_features: int | None = None
    class_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelRequirement:
    """What a model needs from a modality.

    Attributes:
        layouts: element arrangements the model can process.
        scope: the attention scope the model uses, or None if it does not attend.
        needs_edges: whether the model reads ``edge_index``.
        raw_inputs: whether the model maps the modality's raw features itself (its first layer reads
            ``spec.raw_features`` values per element, as in the GCN and GAT papers) instead of the
            modality's shared encoding to ``model.dim``.
    """

    layouts: frozenset[Layout]
    scope: str | None = None
    needs_edges: bool = False
    raw_inputs: bool = False
