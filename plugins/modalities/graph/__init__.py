"""Graph modality: node classification on Planetoid citation graphs or a generated block model."""

from plugins.modalities.graph.modality import GraphModality

__all__ = ["GraphModality"]
