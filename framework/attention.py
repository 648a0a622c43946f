"""The one attention function every attending model calls, and the multi-head layer around it.

``attend`` dispatches on the attention *scope* (which keys each query may see). Each scope is
registered with :func:`register_scope` and uses the implementation that fits it; ``full`` is
``torch.nn.functional.scaled_dot_product_attention`` with a key-padding mask.
:func:`reference_attention` spells out the lecture's formulas step by step for tests and teaching.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framework.batch import VectorSet

ScopeFn = Callable[..., Tensor]
"""``fn(q, k, v, batch, dropout_p, **options) -> out``, all of q, k, v, out ``[B, H, N, d]``."""

_SCOPES: dict[str, ScopeFn] = {}


def register_scope(name: str) -> Callable[[ScopeFn], ScopeFn]:
    """Registers an attention scope implementation under ``name``."""

    def decorator(fn: ScopeFn) -> ScopeFn:
        _SCOPES[name] = fn
        return fn

    return decorator


def available_scopes() -> tuple[str, ...]:
    """Names of the registered attention scopes."""
    return tuple(sorted(_SCOPES))


def attend(
    q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, scope: str = "full", dropout_p: float = 0.0, **options: object
) -> Tensor:
    """Scaled dot-product attention of ``q`` over ``k, v`` restricted to ``scope``.

    Args:
        q, k, v: ``[B, H, N, d]`` queries, keys and values per head.
        batch: the vector sets they come from (its mask, edges or grid define the scope).
        scope: a registered scope name, see :func:`available_scopes`.
        dropout_p: dropout on the attention weights (pass 0 in evaluation).
        options: scope-specific settings (for example a window size).

    Returns:
        ``[B, H, N, d]``; rows at padded queries are defined but meaningless.
    """
    try:
        fn = _SCOPES[scope]
    except KeyError:
        raise ValueError(f"unknown attention scope '{scope}'; available: {', '.join(available_scopes())}") from None
    return fn(q, k, v, batch, dropout_p, **options)


@register_scope("full")
def full_attention(q: Tensor, k: Tensor, v: Tensor, batch: VectorSet, dropout_p: float) -> Tensor:
    """Every element attends to every real element of its set: softmax(q kᵀ / √d) v."""
    key_padding = batch.mask[:, None, None, :]  # [B, 1, 1, N], True = may attend
    return F.scaled_dot_product_attention(q, k, v, attn_mask=key_padding, dropout_p=dropout_p)


def reference_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """The lecture's dot-product attention, one formula per line (slow; for tests and reading).

    With ``q_i``, ``k_j``, ``v_j`` the rows of ``q``, ``k``, ``v`` (``[B, H, N, d]``):
    ``alpha_ij = q_i · k_j / sqrt(d)``; ``alpha'_ij = softmax_j(alpha_ij)`` over the real keys
    (``mask`` ``[B, N]``, True = real); ``b_i = sum_j alpha'_ij v_j``.
    The ``1/sqrt(d)`` scaling is the Transformer's; the lecture omits it.
    """
    scores = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
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
