"""Self-attention encoder: a stack of pre-norm Transformer blocks over any vector set."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from framework import (
    Encoder,
    Layout,
    ModalitySpec,
    ModelRequirement,
    MultiHeadSelfAttention,
    VectorSet,
    divisors,
    listed,
    one_of,
    require,
    require_fits,
    scope_needs_edges,
)


class AttentionBlock(nn.Module):
    """``h + MHSA(LN(h))`` then ``h + FFN(LN(h))``: a pre-norm Transformer block around ``attention``.

    Without ``residual`` the first step is ``MHSA(LN(h))``: every output is then a weighted sum
    over the element's scope, as in a GAT layer, and no element keeps a path that bypasses its context.
    """

    def __init__(
        self, attention: MultiHeadSelfAttention, dim: int, ff_mult: int, dropout: float, residual: bool = True
    ) -> None:
        super().__init__()
        self.residual = residual
        self.norm1 = nn.LayerNorm(dim)
        self.attn = attention
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_mult * dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        attended = self.dropout(self.attn(self.norm1(h), batch))
        h = h + attended if self.residual else attended
        return h + self.dropout(self.ff(self.norm2(h)))


class AttentionEncoder(Encoder):
    """Multi-head self-attention encoder; every element attends within ``scope``.

    Args:
        spec: the modality this encoder is built for.
        dim: width of every element vector.
        layers: number of blocks.
        heads: attention heads; must divide ``dim``.
        ff_mult: feed-forward hidden width as a multiple of ``dim``.
        dropout: dropout on the residual branches and inside the feed-forward block.
        attention_dropout: dropout on the attention weights.
        scope: which elements each element attends to (``full``, ``window``, ``graph``; see ``framework.attend``).
        window: with ``scope=window``, each element attends to the elements within ``±window``.
        residual: add each block's input to its attention output (the Transformer); without it the
            attention output replaces the input, as a GAT layer's does.
        pool: per-set summary: ``mean`` of the outputs or a learned ``cls`` token (``full`` scope only:
            the token has no position and no edges, so only full attention reaches every element).
    """

    requires = ModelRequirement(layouts=frozenset(Layout))
    width_key = "dim"

    def __init__(
        self,
        spec: ModalitySpec,
        dim: int,
        layers: int,
        heads: int,
        ff_mult: int,
        dropout: float,
        attention_dropout: float,
        scope: str,
        window: int,
        residual: bool,
        pool: str,
    ) -> None:
        require(dim > 0, "dim", dim, "must be a positive integer")
        require(layers > 0, "layers", layers, "must be a positive integer")
        require(ff_mult > 0, "ff_mult", ff_mult, "must be a positive integer")
        # per block: the query, key, value and output projections (4·dim²) and the feed-forward (2·ff_mult·dim²)
        require_fits({"dim": dim, "layers": layers, "ff_mult": ff_mult}, layers * (4 + 2 * ff_mult) * dim**2)
        require(
            heads > 0 and dim % heads == 0,
            "heads",
            heads,
            f"must divide dim={dim}; allowed values are {listed(divisors(dim))}",
        )
        require(0 <= dropout < 1, "dropout", dropout, "must be in [0, 1)")
        require(0 <= attention_dropout < 1, "attention_dropout", attention_dropout, "must be in [0, 1)")
        require(window >= 1, "window", window, "must be 1 or more (elements on each side)")
        require(isinstance(residual, bool), "residual", residual, "must be true or false")
        one_of("pool", pool, ("mean", "cls"))
        require(
            pool == "mean" or scope == "full",
            "pool",
            pool,
            f"cls needs scope=full (the token reaches no element under scope={scope}); use pool=mean",
        )
        super().__init__(spec, dim)
        self.pool = pool
        self.blocks = nn.ModuleList(
            AttentionBlock(
                MultiHeadSelfAttention(dim, heads, attention_dropout, scope, window=window),
                dim,
                ff_mult,
                dropout,
                residual,
            )
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None

    @classmethod
    def requirement(cls, scope: str, **options: object) -> ModelRequirement:
        return replace(cls.requires, scope=scope, needs_edges=scope_needs_edges(scope))

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        for block in self.blocks:
            h = block(h, batch)
        return self.norm(h)

    def forward_set(self, h: Tensor, batch: VectorSet) -> Tensor:
        if self.cls is None:
            return super().forward_set(h, batch)
        # The class token joins the set as one more real element; it has no position and no edges.
        B = h.shape[0]
        with_cls = VectorSet(x=batch.x, y=batch.y, mask=torch.cat([batch.mask.new_ones(B, 1), batch.mask], dim=1))
        return self(torch.cat([self.cls.expand(B, -1, -1), h], dim=1), with_cls)[:, 0]
