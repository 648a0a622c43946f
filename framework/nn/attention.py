"""The one attention function every attending model calls, and the multi-head layer around it.

``attend`` dispatches on the attention *scope* (which keys each query may see). Each scope is
declared in a ``scopes.yaml`` (see :mod:`framework.core.catalogue`), registered with :func:`register_scope`
and uses the implementation that fits it; ``full`` is
``torch.nn.functional.scaled_dot_product_attention`` with a key-padding mask, ``window`` is an
exact sliding window computed block by block in time and memory linear in the length
(:mod:`framework.nn.window_attention`), ``graph``
scores only the pairs joined by an edge, in time and memory linear in the number of edges.
:func:`reference_weights` and :func:`reference_attention` spell out the lecture's formulas step by step for
tests, teaching and attention maps.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framework.core.batch import VectorSet
from framework.core.catalogue import Scope, scopes
from framework.core.sources import PluginError
from framework.nn.edge_attention import edge_attention
from framework.nn.window_attention import window_attention

ScopeFn = Callable[..., Tensor]
"""``fn(q, k, v, batch, dropout_p, **options) -> out``, all of q, k, v, out ``[B, H, N, d]``."""

_IMPLEMENTATIONS: dict[str, ScopeFn] = {}


def register_scope(name: str) -> Callable[[ScopeFn], ScopeFn]:
    """Registers the implementation of the attention scope ``name``, which a ``scopes.yaml`` must declare.

    The declaration gives its description, the keyword options it receives and whether it reads
    the batch's ``edge_index``; registering an undeclared name raises :class:`PluginError`.
    """
    if name not in scopes():
        raise PluginError(
            f"attention scope '{name}' is registered but no scopes.yaml declares it (declared: "
            f"{', '.join(available_scopes())}); declare it in its plugin's conf/scopes.yaml"
        )

    def decorator(fn: ScopeFn) -> ScopeFn:
        _IMPLEMENTATIONS[name] = fn
        return fn

    return decorator


def available_scopes() -> tuple[str, ...]:
    """Names of the declared attention scopes."""
    return tuple(sorted(scopes()))


def scope_needs_edges(scope: str) -> bool:
    """Whether ``scope`` attends along the batch's edges (so the modality must provide them)."""
    declared = scopes().get(scope)
    return declared is not None and declared.needs_edges


def scope_implementation(scope: str) -> tuple[ScopeFn, Scope]:
    """The function computing ``scope`` and its declaration; imports the declared module on first use."""
    declared = scopes().get(scope)
    if declared is None:
        raise ValueError(f"unknown attention scope '{scope}'; available: {', '.join(available_scopes())}")
    if scope not in _IMPLEMENTATIONS:
        importlib.import_module(declared.module)
    if scope not in _IMPLEMENTATIONS:
        raise PluginError(
            f"attention scope '{scope}' is declared in {declared.source} but module {declared.module} registers no "
            f"implementation; decorate its function with @register_scope('{scope}')"
        )
    return _IMPLEMENTATIONS[scope], declared


def attend(
    q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, scope: str = "full", dropout_p: float = 0.0, **options: object
) -> Tensor:
    """Scaled dot-product attention of ``q`` over ``k, v`` restricted to ``scope``.

    Args:
        q, k, v: queries, keys and values per head.
        batch: the vector sets they come from (its mask, edges or grid define the scope).
        scope: a declared scope name, see :func:`available_scopes`.
        dropout_p: dropout on the attention weights (pass 0 in evaluation).
        options: settings of the scopes (``window=64``); each scope receives the ones it declares,
            so a model may pass all of them whatever its scope.

    Returns:
        The attended values; rows at padded queries are defined but meaningless.

    Shapes:
        q, k, v: ``[B, H, N, d]``
        batch.mask: ``[B, N]``
        output: ``[B, H, N, d]``
    """
    fn, declared = scope_implementation(scope)
    return fn(q, k, v, batch, dropout_p, **{key: options[key] for key in declared.options})


@register_scope("full")
def full_attention(q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, dropout_p: float) -> Tensor:
    """Every element attends to every real element of its set: softmax(q kᵀ / √d) v.

    Shapes:
        q, k, v: ``[B, H, N, d]``
        batch.mask: ``[B, N]``
        output: ``[B, H, N, d]``
    """
    key_padding = batch.mask[:, None, None, :]  # [B, 1, 1, N], True = may attend
    return F.scaled_dot_product_attention(q, k, v, attn_mask=key_padding, dropout_p=dropout_p)


@register_scope("window")
def window_scope(q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, dropout_p: float, window: int) -> Tensor:
    """Element ``i`` attends to the real elements ``j`` with ``|i - j| <= window`` (and always to itself).

    Exact and linear in ``N`` in time and memory, forward and backward: computed block by block
    by :func:`~framework.nn.window_attention.window_attention`. A window of at least the length
    equals ``full``.

    Shapes:
        q, k, v: ``[B, H, N, d]``
        batch.mask: ``[B, N]``
        output: ``[B, H, N, d]``
    """
    return window_attention(q, k, v, batch.mask, window, dropout_p)


@register_scope("graph")
def graph_attention(q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, dropout_p: float) -> Tensor:
    """Element ``i`` attends to the sources ``j`` of its incoming edges ``j → i`` and to itself.

    Sparse, as a GNN computes it: one score per edge, a softmax over each target's edges,
    a weighted sum of the source values; never an ``N × N`` matrix. Padded elements have
    no edges and attend only to themselves. ``batch.edge_index`` must hold each pair once and
    no self-loops (see :class:`~framework.core.batch.VectorSet`). Computed by
    :func:`~framework.nn.edge_attention.edge_attention`.

    Shapes:
        q, k, v: ``[B, H, N, d]``
        batch.edge_index: ``[2, E]``
        output: ``[B, H, N, d]``
    """
    if batch.edge_index is None:
        raise ValueError("the graph scope needs a batch with edge_index")
    return edge_attention(q, k, v, batch.edge_index, dropout_p)


def reference_weights(
    q: Tensor,
    k: Tensor,
    mask: Tensor | None = None,
    window: int | None = None,
    edge_index: Tensor | None = None,
    queries: Tensor | None = None,
) -> Tensor:
    """The lecture's attention weights ``alpha'_ij``, one formula per line (dense; for tests, reading and pictures).

    With ``q_i``, ``k_j`` the rows of ``q``, ``k``:
    ``alpha_ij = q_i · k_j / sqrt(d)``; ``alpha'_ij = softmax_j(alpha_ij)`` over the real keys
    (``mask`` True = real). The ``1/sqrt(d)`` scaling is the Transformer's; the lecture
    omits it. With ``window``, only keys ``|i - j| <= window`` count (plus ``j = i``), the band the
    ``window`` scope computes. With ``edge_index`` (over flattened ``b * N + i``), only the sources of
    ``i``'s edges count (plus ``j = i``). ``queries`` (distinct positions) computes only those
    rows, in ``Q × N`` memory instead of ``N × N``. Each row of the output sums to 1.

    Shapes:
        q, k: ``[B, H, N, d]``
        mask: ``[B, N]``
        edge_index: ``[2, E]``
        queries: ``[Q]``
        output: ``[B, H, Q, N]`` (``Q = N`` without ``queries``)
    """
    B, H, N, _ = k.shape
    positions = torch.arange(N, device=k.device)
    rows = positions if queries is None else queries.to(k.device)
    scores = torch.einsum("bhid,bhjd->bhij", q[:, :, rows], k) / math.sqrt(q.shape[-1])  # [B, H, Q, N]
    itself = rows[:, None] == positions[None, :]  # [Q, N]
    allowed = torch.ones(B, 1, len(rows), N, dtype=torch.bool, device=k.device)  # [B, 1, Q, N]
    if mask is not None:
        allowed = allowed & mask[:, None, None, :]
    if window is not None:
        allowed = (allowed & ((rows[:, None] - positions[None, :]).abs() <= window)) | itself
    if edge_index is not None:
        row_of = torch.full((N,), -1, dtype=torch.long, device=k.device)  # position -> its row, -1 if not a query
        row_of[rows] = torch.arange(len(rows), device=k.device)
        source, target = edge_index
        kept = row_of[target % N] >= 0  # [E], edges into a query
        adjacency = itself.repeat(B, 1, 1)  # [B, Q, N]
        adjacency[target[kept] // N, row_of[target[kept] % N], source[kept] % N] = True
        allowed = (allowed & adjacency[:, None]) | itself
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def reference_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    window: int | None = None,
    edge_index: Tensor | None = None,
) -> Tensor:
    """The lecture's dot-product attention: ``b_i = sum_j alpha'_ij v_j`` with the weights of :func:`reference_weights`.

    Slow (``N × N`` scores); for tests and reading. Arguments as in :func:`reference_weights`.

    Shapes:
        q, k, v: ``[B, H, N, d]``
        mask: ``[B, N]``
        edge_index: ``[2, E]``
        output: ``[B, H, N, d]``
    """
    return torch.einsum("bhij,bhjd->bhid", reference_weights(q, k, mask, window, edge_index), v)


REFERENCE_SCOPES = ("full", "window", "graph")
"""Scopes whose weights :func:`reference_weights` reproduces."""


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention: ``out = W_o [head_1; ...; head_H]``, ``head_h = attend(W_q^h a, W_k^h a, W_v^h a)``.

    The input projections are stored as one ``[3D, D]`` matrix in the order (q, k, v), the same
    layout as ``torch.nn.MultiheadAttention.in_proj_weight``.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, scope: str = "full", **scope_options: object):
        super().__init__()
        if dim % heads:
            raise ValueError(f"heads={heads} must divide dim={dim}")
        self.heads, self.dropout, self.scope, self.scope_options = heads, dropout, scope, scope_options
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def project(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values of ``h`` per head.

        Shapes:
            h: ``[B, N, D]``
            output: three ``[B, H, N, D / H]``
        """
        B, N, D = h.shape
        q, k, v = self.qkv(h).view(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # 3 × [B, H, N, D / H]
        return q, k, v

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        """Self-attention of ``h`` within its sets: ``W_o [head_1; ...; head_H]``.

        Shapes:
            h: ``[B, N, D]``
            batch.mask: ``[B, N]``
            output: ``[B, N, D]``
        """
        B, N, D = h.shape
        q, k, v = self.project(h)
        dropout_p = self.dropout if self.training else 0.0
        out = attend(q, k, v, batch, self.scope, dropout_p, **self.scope_options)  # [B, H, N, D / H]
        return self.out(out.transpose(1, 2).reshape(B, N, D))  # [B, N, H, D / H] → [B, N, D]

    def attention_weights(self, h: Tensor, batch: VectorSet, queries: Tensor | None = None) -> Tensor:
        """The weights this layer gives ``h``'s queries (all, or the positions ``queries``) in eval mode.

        The scope's kernels never form them; this recomputes them with :func:`reference_weights`
        from the layer's own projections, so it costs ``Q × N`` scores: for pictures and tests, not training.

        Shapes:
            h: ``[B, N, D]``
            queries: ``[Q]``
            output: ``[B, H, Q, N]`` (``Q = N`` without ``queries``)
        """
        if self.scope not in REFERENCE_SCOPES:
            raise ValueError(
                f"no reference weights for attention scope '{self.scope}'; known: {', '.join(REFERENCE_SCOPES)}"
            )
        q, k, _ = self.project(h)
        window = self.scope_options["window"] if self.scope == "window" else None
        edge_index = batch.edge_index if self.scope == "graph" else None
        return reference_weights(q, k, batch.mask, window, edge_index, queries)
