"""Exact sliding-window attention in time and memory linear in the length, with a hand-written backward pass.

Queries are cut into blocks of ``b >= window`` elements; block ``j`` attends only to key blocks
``j - 1, j, j + 1`` (``3b`` keys), under a band mask that keeps ``|i - k| <= window``. The blocks
are processed a chunk at a time, and the backward pass recomputes each chunk's scores from the
saved log-sum-exp instead of keeping them (as flash attention does), so memory beyond the inputs
and outputs is one chunk's scores plus ``O(N)`` per head, whatever the length.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

WINDOW_BLOCK = 16
"""Smallest block of queries processed at once (larger windows use blocks of ``window``)."""
CHUNK_SCORES = 2**21
"""Scores computed at once (one chunk of blocks, all sets and heads): 8 MiB in float32."""


class _Blocks:
    """A sequence cut into blocks, and each block's neighbourhood (the previous, own and next block).

    Args:
        n: the sequence length ``N``.
        window: the half-width of the band.
        mask: ``[B, N]``, True for real elements.
    """

    def __init__(self, n: int, window: int, mask: Tensor) -> None:
        self.n, self.window = n, window
        self.b = max(window, WINDOW_BLOCK)
        self.count = -(-n // self.b)  # ceil(N / b)
        self.tail = self.count * self.b - n  # padding that fills the last block
        B = mask.shape[0]
        real = F.pad(mask, (0, self.tail)).view(B, self.count, self.b)
        self.real = F.pad(real, (0, 0, 1, 1))  # [B, count + 2, b]: a block of nothing before the first, after the last
        query = torch.arange(self.b, device=mask.device)[:, None]  # [b, 1]
        key = torch.arange(3 * self.b, device=mask.device)[None, :] - self.b  # [1, 3b], offsets from the block start
        self.band = (query - key).abs() <= window  # [b, 3b], the same for every block
        self.itself = query == key  # [b, 3b]: always allowed, so no row is empty (padded queries too)

    def split(self, t: Tensor) -> Tensor:
        """``[B, H, N, d]`` → ``[B, H, count, b, d]``, zero-padded at the end."""
        B, H, _, d = t.shape
        return F.pad(t, (0, 0, 0, self.tail)).view(B, H, self.count, self.b, d)

    def padded(self, t: Tensor) -> Tensor:
        """``[B, H, N, d]`` → ``[B, H, count + 2, b, d]``: the blocks with an empty block on each side."""
        return F.pad(self.split(t), (0, 0, 0, 0, 1, 1))

    def merge(self, blocks: Tensor) -> Tensor:
        """``[B, H, count, b, d]`` → ``[B, H, N, d]``."""
        B, H, _, _, d = blocks.shape
        return blocks.reshape(B, H, self.count * self.b, d)[:, :, : self.n]

    def chunks(self, batch: int, heads: int) -> list[tuple[int, int]]:
        """Block ranges ``[start, end)`` of about :data:`CHUNK_SCORES` scores each."""
        size = max(1, CHUNK_SCORES // (batch * heads * self.b * 3 * self.b))
        return [(start, min(start + size, self.count)) for start in range(0, self.count, size)]

    @staticmethod
    def around(padded: Tensor, start: int, end: int) -> Tensor:
        """The neighbourhoods of blocks ``start..end-1`` from :meth:`padded` ones: ``[..., end - start, 3b, x]``."""
        return torch.cat(
            [padded[:, :, start:end], padded[:, :, start + 1 : end + 1], padded[:, :, start + 2 : end + 2]], -2
        )

    def allowed(self, start: int, end: int) -> Tensor:
        """``[B, 1, end - start, b, 3b]``: which keys each query of blocks ``start..end-1`` may see."""
        real = self.around(self.real[:, None, :, :, None], start, end)[:, 0, ..., 0]  # [B, c, 3b]
        return ((self.band & real[:, :, None, :]) | self.itself)[:, None]


def _probabilities(
    blocks: _Blocks, q: Tensor, k: Tensor, start: int, end: int, scale: float, lse: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The attention weights of blocks ``start..end-1`` and their log-sum-exp (given, or computed).

    Shapes:
        q: ``[B, H, count, b, d]``; k: ``[B, H, count + 2, b, d]``
        output: ``[B, H, c, b, 3b]`` (float32 or float64) and ``[B, H, c, b]``
    """
    scores = torch.matmul(q[:, :, start:end], _Blocks.around(k, start, end).transpose(-1, -2))  # [B, H, c, b, 3b]
    scores = scores.to(torch.promote_types(scores.dtype, torch.float32)) * scale
    scores = scores.masked_fill(~blocks.allowed(start, end), float("-inf"))
    if lse is None:
        lse = torch.logsumexp(scores, dim=-1)
    return torch.exp(scores - lse[..., None]), lse


def _dropout_keep(shape: torch.Size, p: float, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """The weights dropout keeps, scaled by ``1 / (1 - p)``, drawn from ``generator`` (the backward redraws them)."""
    return (torch.rand(shape, generator=generator, device=device) >= p) / (1.0 - p)


class _WindowAttention(torch.autograd.Function):
    """Forward and backward of :func:`window_attention`; see the module docstring."""

    @staticmethod
    def forward(ctx: Any, q: Tensor, k: Tensor, v: Tensor, mask: Tensor, window: int, dropout_p: float) -> Tensor:
        B, H, N, d = q.shape
        blocks = _Blocks(N, window, mask)
        scale = 1.0 / math.sqrt(d)
        seed = int(torch.randint(2**62, (1,))) if dropout_p > 0 else 0  # from the global generator: seeded runs repeat
        generator = torch.Generator(device=q.device).manual_seed(seed) if dropout_p > 0 else None
        qb, kp, vp = blocks.split(q), blocks.padded(k), blocks.padded(v)
        out = torch.empty_like(qb)  # [B, H, count, b, d]
        lse = q.new_empty(B, H, blocks.count, blocks.b, dtype=torch.promote_types(q.dtype, torch.float32))
        for start, end in blocks.chunks(B, H):
            weights, lse[:, :, start:end] = _probabilities(blocks, qb, kp, start, end, scale)
            if dropout_p > 0:
                weights = weights * _dropout_keep(weights.shape, dropout_p, generator, q.device)
            out[:, :, start:end] = torch.matmul(weights.to(v.dtype), _Blocks.around(vp, start, end))
        ctx.save_for_backward(q, k, v, mask, out, lse)
        ctx.window, ctx.dropout_p, ctx.seed = window, dropout_p, seed
        return blocks.merge(out)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        q, k, v, mask, out, lse = ctx.saved_tensors
        B, H, N, d = q.shape
        blocks = _Blocks(N, ctx.window, mask)
        scale = 1.0 / math.sqrt(d)
        generator = torch.Generator(device=q.device).manual_seed(ctx.seed) if ctx.dropout_p > 0 else None
        qb, kp, vp, gb = blocks.split(q), blocks.padded(k), blocks.padded(v), blocks.split(grad)
        # D_i = sum_j p_ij dP_ij = dO_i · O_i (with dropout too), the softmax's correction term
        correction = (gb.to(lse.dtype) * out.to(lse.dtype)).sum(-1)  # [B, H, count, b]
        dq = torch.empty_like(qb)
        dkp, dvp = torch.zeros_like(kp), torch.zeros_like(vp)  # gradients of the padded blocks
        for start, end in blocks.chunks(B, H):
            weights, _ = _probabilities(blocks, qb, kp, start, end, scale, lse[:, :, start:end])  # [B, H, c, b, 3b]
            dropped = weights
            grad_weights = torch.matmul(gb[:, :, start:end], _Blocks.around(vp, start, end).transpose(-1, -2))
            grad_weights = grad_weights.to(weights.dtype)
            if ctx.dropout_p > 0:
                keep = _dropout_keep(weights.shape, ctx.dropout_p, generator, q.device)
                dropped, grad_weights = weights * keep, grad_weights * keep
            grad_v = torch.matmul(dropped.transpose(-1, -2).to(v.dtype), gb[:, :, start:end])  # [B, H, c, 3b, d]
            grad_scores = (weights * (grad_weights - correction[:, :, start:end, :, None]) * scale).to(q.dtype)
            dq[:, :, start:end] = torch.matmul(grad_scores, _Blocks.around(kp, start, end))
            grad_k = torch.matmul(grad_scores.transpose(-1, -2), qb[:, :, start:end])  # [B, H, c, 3b, d]
            b = blocks.b
            for offset in range(3):  # a neighbourhood's thirds are the previous, own and next block
                dkp[:, :, start + offset : end + offset] += grad_k[..., offset * b : (offset + 1) * b, :]
                dvp[:, :, start + offset : end + offset] += grad_v[..., offset * b : (offset + 1) * b, :]
        return (
            blocks.merge(dq),
            blocks.merge(dkp[:, :, 1:-1]),
            blocks.merge(dvp[:, :, 1:-1]),
            None,
            None,
            None,
        )


def window_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, window: int, dropout_p: float = 0.0) -> Tensor:
    """Element ``i`` attends to the real elements ``j`` with ``|i - j| <= window`` (and always to itself).

    Exact: the weights are those of a band-masked softmax over all keys. Time is ``N * 3b``
    scores (``b = max(window, 16)``) instead of ``N²``, and memory beyond the inputs and output
    is ``O(N)`` per head plus one chunk of :data:`CHUNK_SCORES` scores, in the forward and the
    backward pass. Dropout on the weights is drawn from a generator seeded from torch's global
    one, and redrawn identically in the backward pass.

    Shapes:
        q, k, v: ``[B, H, N, d]``
        mask: ``[B, N]``
        output: ``[B, H, N, d]``
    """
    with torch.autocast(device_type=q.device.type, enabled=False):  # the kernel picks its own precision per step
        return _WindowAttention.apply(q, k, v, mask, window, dropout_p)
