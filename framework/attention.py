"""The one attention function every attending model calls, and the multi-head layer around it.

``attend`` dispatches on the attention *scope* (which keys each query may see). Each scope is
registered with :func:`register_scope` and uses the implementation that fits it; ``full`` is
``torch.nn.functional.scaled_dot_product_attention`` with a key-padding mask, ``window`` is an
exact sliding window computed block by block in time and memory linear in the length, ``graph``
scores only the pairs joined by an edge, in time and memory linear in the number of edges.
:func:`reference_attention` spells out the lecture's formulas step by step for tests and teaching.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framework.batch import VectorSet
from framework.edge_attention import edge_attention

ScopeFn = Callable[..., Tensor]
"""``fn(q, k, v, batch, dropout_p, **options) -> out``, all of q, k, v, out ``[B, H, N, d]``."""

_SCOPES: dict[str, tuple[ScopeFn, tuple[str, ...]]] = {}
_EDGE_SCOPES: set[str] = set()


def register_scope(name: str, options: tuple[str, ...] = (), needs_edges: bool = False) -> Callable[[ScopeFn], ScopeFn]:
    """Registers an attention scope implementation under ``name``.

    It receives the listed keyword ``options``; ``needs_edges`` says that it reads the batch's ``edge_index``.
    """

    def decorator(fn: ScopeFn) -> ScopeFn:
        _SCOPES[name] = (fn, options)
        if needs_edges:
            _EDGE_SCOPES.add(name)
        return fn

    return decorator


def available_scopes() -> tuple[str, ...]:
    """Names of the registered attention scopes."""
    return tuple(sorted(_SCOPES))


def scope_needs_edges(scope: str) -> bool:
    """Whether ``scope`` attends along the batch's edges (so the modality must provide them)."""
    return scope in _EDGE_SCOPES


def attend(
    q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, scope: str = "full", dropout_p: float = 0.0, **options: object
) -> Tensor:
    """Scaled dot-product attention of ``q`` over ``k, v`` restricted to ``scope``.

    Args:
        q, k, v: ``[B, H, N, d]`` queries, keys and values per head.
        batch: the vector sets they come from (its mask, edges or grid define the scope).
        scope: a registered scope name, see :func:`available_scopes`.
        dropout_p: dropout on the attention weights (pass 0 in evaluation).
        options: settings of the scopes (``window=64``); each scope receives the ones it declares,
            so a model may pass all of them whatever its scope.

    Returns:
        ``[B, H, N, d]``; rows at padded queries are defined but meaningless.
    """
    try:
        fn, accepted = _SCOPES[scope]
    except KeyError:
        raise ValueError(f"unknown attention scope '{scope}'; available: {', '.join(available_scopes())}") from None
    return fn(q, k, v, batch, dropout_p, **{key: options[key] for key in accepted})


@register_scope("full")
def full_attention(q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, dropout_p: float) -> Tensor:
    """Every element attends to every real element of its set: softmax(q kᵀ / √d) v."""
    key_padding = batch.mask[:, None, None, :]  # [B, 1, 1, N], True = may attend
    return F.scaled_dot_product_attention(q, k, v, attn_mask=key_padding, dropout_p=dropout_p)


WINDOW_BLOCK = 16
"""Smallest block of queries the window scope processes at once (larger windows use blocks of ``window``)."""


@register_scope("window", options=("window",))
def window_attention(q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, dropout_p: float, window: int) -> Tensor:
    """Element ``i`` attends to the real elements ``j`` with ``|i - j| <= window`` (and always to itself).

    Exact and linear in ``N``: queries are cut into blocks of ``b >= window`` elements, and each
    block attends only to its own and its two neighbouring key blocks (``3b`` keys), so the
    work is ``N * 3b`` scores instead of ``N²``. A window of at least the length equals ``full``.
    """
    B, H, N, d = q.shape
    b = max(window, WINDOW_BLOCK)
    blocks = -(-N // b)
    tail = blocks * b - N

    def split(t: Tensor) -> Tensor:  # [B, H, N, d] → [B, H, blocks, b, d]
        return F.pad(t, (0, 0, 0, tail)).view(B, H, blocks, b, d)

    def neighbourhood(t: Tensor) -> Tensor:  # [..., blocks, b, x] → [..., blocks, 3b, x]: previous, own, next block
        padded = F.pad(t, (0, 0, 0, 0, 1, 1))
        return torch.cat([padded[..., :-2, :, :], padded[..., 1:-1, :, :], padded[..., 2:, :, :]], dim=-2)

    real = neighbourhood(F.pad(batch.mask, (0, tail)).view(B, blocks, b, 1)).squeeze(-1)  # [B, blocks, 3b]
    query = torch.arange(b, device=q.device)[:, None]
    key = torch.arange(3 * b, device=q.device)[None, :] - b  # key offsets relative to the query block start
    band = (query - key).abs() <= window  # [b, 3b], the same for every block
    # The query itself is always allowed, so padded queries past the last real key get no empty row (NaN).
    allowed = (band & real[:, :, None, :]) | (query == key)
    out = F.scaled_dot_product_attention(
        split(q), neighbourhood(split(k)), neighbourhood(split(v)), attn_mask=allowed[:, None], dropout_p=dropout_p
    )
    return out.reshape(B, H, blocks * b, d)[:, :, :N]


@register_scope("graph", needs_edges=True)
def graph_attention(q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, dropout_p: float) -> Tensor:
    """Element ``i`` attends to the sources ``j`` of its incoming edges ``j → i`` and to itself.

    Sparse, as a GNN computes it: one score per edge, a softmax over each target's edges,
    a weighted sum of the source values; never an ``N × N`` matrix. Padded elements have
    no edges and attend only to themselves. ``batch.edge_index`` must hold each pair once and
    no self-loops (see :class:`~framework.batch.VectorSet`). Computed by
    :func:`~framework.edge_attention.edge_attention`.
    """
    if batch.edge_index is None:
        raise ValueError("the graph scope needs a batch with edge_index")
    return edge_attention(q, k, v, batch.edge_index, dropout_p)


def reference_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, window: int | None = None, edge_index: Tensor | None = None
) -> Tensor:
    """The lecture's dot-product attention, one formula per line (slow; for tests and reading).

    With ``q_i``, ``k_j``, ``v_j`` the rows of ``q``, ``k``, ``v`` (``[B, H, N, d]``):
    ``alpha_ij = q_i · k_j / sqrt(d)``; ``alpha'_ij = softmax_j(alpha_ij)`` over the real keys
    (``mask`` ``[B, N]``, True = real); ``b_i = sum_j alpha'_ij v_j``.
    The ``1/sqrt(d)`` scaling is the Transformer's; the lecture omits it. With ``window``, only
    keys ``|i - j| <= window`` count (plus ``j = i``), the band the ``window`` scope computes. With
    ``edge_index`` (over flattened ``b * N + i``), only the sources of ``i``'s edges count (plus ``j = i``).
    """
    B, H, N, _ = q.shape
    scores = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(q.shape[-1])
    allowed = torch.ones(B, 1, N, N, dtype=torch.bool, device=q.device)
    if mask is not None:
        allowed = allowed & mask[:, None, None, :]
    if window is not None:
        positions = torch.arange(N, device=q.device)
        offsets = positions[:, None] - positions[None, :]
        allowed = (allowed & (offsets.abs() <= window)) | (offsets == 0)
    if edge_index is not None:
        itself = torch.eye(N, dtype=torch.bool, device=q.device)
        adjacency = itself.repeat(B, 1, 1)
        source, target = edge_index
        adjacency[target // N, target % N, source % N] = True
        allowed = (allowed & adjacency[:, None]) | itself
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.einsum("bhij,bhjd->bhid", weights, v)


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

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        """``h`` ``[B, N, D]`` → ``[B, N, D]``."""
        B, N, D = h.shape
        q, k, v = self.qkv(h).view(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        dropout_p = self.dropout if self.training else 0.0
        out = attend(q, k, v, batch, self.scope, dropout_p, **self.scope_options)
        return self.out(out.transpose(1, 2).reshape(B, N, D))
