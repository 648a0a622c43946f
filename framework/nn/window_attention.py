"""Exact sliding-window attention in time and memory linear in the length, with hand-written backward passes.

Two kernels compute the same function. On CPU without dropout, for sequences of many blocks,
:class:`_FusedWindowAttention` hands each chunk of a sequence's blocks of ``b`` queries, with each
block's ``b + 2 * window`` keys as an overlapping strided view (copied only at the sequence's
ends), to PyTorch's fused CPU flash-attention kernel under an additive band mask. Elsewhere
(dropout, other devices, short sequences) :class:`_WindowAttention`
cuts the queries into blocks of ``b >= window`` elements that attend only to key blocks
``j - 1, j, j + 1`` (``3b`` keys), processes them a chunk at a time, and recomputes each chunk's
scores in the backward pass from the saved log-sum-exp instead of keeping them (as flash
attention does). Either way, memory beyond the inputs and outputs is ``O(N)`` per head.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

WINDOW_BLOCK = 16
"""Smallest block of queries processed at once (larger windows use blocks of ``window``)."""
FUSED_MIN_BLOCKS = 16
"""Blocks per sequence from which the fused kernel is faster than the chunked one (with 2 threads, forward and
backward: 3x at 1,024 elements in blocks of 64, even at 256 in blocks of 16, 3x slower at 64 in blocks of 16)."""
CHUNK_SCORES = 2**21
"""Scores computed at once (one chunk of blocks, all heads): 8 MiB in float32."""
# What F.scaled_dot_product_attention calls on CPU, called directly for its log-sum-exp and its backward pass.
_FUSED_CPU = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_FUSED_CPU_BACKWARD = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward


def _band(queries: int, keys: int, first_key: int, window: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """``[queries, keys]`` masks of a block of queries against consecutive keys, the first ``first_key`` positions
    after the block's first query: which keys are in a query's band, and which is the query itself (always allowed,
    so that no row is empty, padded queries' included)."""
    query = torch.arange(queries, device=device)[:, None]
    key = torch.arange(keys, device=device)[None, :] + first_key
    return (query - key).abs() <= window, query == key


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
        self.band, self.itself = _band(self.b, 3 * self.b, -self.b, window, mask.device)  # [b, 3b], every block's

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


class _Tiling:
    """Each sequence cut into query blocks of ``b`` elements, each with its keys from ``window`` before to ``window``
    after it, taken a chunk of blocks at a time.

    Queries, keys and outputs stay in their own tensors: the blocks of a chunk are strided
    views of them (overlapping, for keys) and only a chunk that reaches past either end of its
    sequence is copied, with zero rows outside it. Each chunk has about :data:`CHUNK_SCORES`
    scores, so every temporary stays small enough for the allocator to reuse.

    Args:
        shape: ``(B, H, N, d)`` of the queries.
        window: the half-width of the band.
        mask: ``[B, N]``, True for real elements.
    """

    def __init__(self, shape: torch.Size, window: int, mask: Tensor) -> None:
        self.batch, self.heads, self.n, self.dim = shape
        self.window, self.mask = window, mask
        self.b = max(window, WINDOW_BLOCK)
        self.count = -(-self.n // self.b)  # blocks per sequence
        self.span = self.b + 2 * window  # keys per block
        self.band, self.itself = _band(self.b, self.span, -window, window, mask.device)  # [b, span], every block's
        self._band_bias: dict[torch.dtype, Tensor] = {}

    def chunks(self) -> list[tuple[int, int, int]]:
        """``(sequence, first block, end block)`` of about :data:`CHUNK_SCORES` scores each; the blocks whose keys
        reach past an end of the sequence have chunks of their own, so that the others are views."""
        size = max(1, CHUNK_SCORES // (self.heads * self.b * self.span))
        inner_end = max(1, min(self.count, (self.n - self.window) // self.b))  # the first block reaching past the end
        bounds = sorted({0, min(1, self.count), inner_end, self.count})
        return [
            (sequence, start, min(start + size, end))
            for sequence in range(self.batch)
            for begin, end in zip(bounds, bounds[1:])
            for start in range(begin, end, size)
        ]

    def _rows(self, t: Tensor, sequence: int, start: int, end: int) -> Tensor:
        """Positions ``start..end-1`` of ``t[sequence]``, ``[H, end - start, d]``: a view, or a zero-padded copy."""
        if start >= 0 and end <= self.n:
            return t[sequence, :, start:end]
        rows = t.new_zeros(t.shape[1], end - start, t.shape[3])
        rows[:, max(0, -start) : self.n - start] = t[sequence, :, max(0, start) : end]
        return rows

    def _blocks(self, rows: Tensor, count: int, size: int) -> Tensor:
        """``[H, R, d]`` → ``[count, H, size, d]``, block ``j`` being rows ``j * b .. j * b + size`` (a view)."""
        head, row, dim = rows.stride()
        return rows.as_strided((count, self.heads, size, self.dim), (self.b * row, head, row, dim))

    def queries(self, t: Tensor, sequence: int, start: int, end: int) -> Tensor:
        """Blocks ``start..end-1`` of ``t[sequence]`` (``[B, H, N, d]``): ``[end - start, H, b, d]``."""
        return self._blocks(self._rows(t, sequence, start * self.b, end * self.b), end - start, self.b)

    def keys(self, t: Tensor, sequence: int, start: int, end: int) -> Tensor:
        """The keys of blocks ``start..end-1`` of ``t[sequence]`` (``[B, H, N, d]``): ``[end - start, H, span, d]``."""
        rows = self._rows(t, sequence, start * self.b - self.window, end * self.b + self.window)
        return self._blocks(rows, end - start, self.span)

    def bias(self, sequence: int, start: int, end: int, dtype: torch.dtype) -> Tensor:
        """``[end - start or 1, 1, b, span]``: 0 where a query may see a key (in its band and real), else -inf."""
        first, last = start * self.b - self.window, end * self.b + self.window
        real = self._rows(self.mask[:, None, :, None], sequence, first, last)[0, :, 0]  # [rows], stride 1
        if first >= 0 and last <= self.n and bool(real.all()):  # the band alone, the same for every block
            if dtype not in self._band_bias:
                self._band_bias[dtype] = self._additive(self.band, dtype)
            return self._band_bias[dtype]
        visible = real.as_strided((end - start, self.span), (self.b, 1))
        return self._additive((self.band & visible[:, None, :]) | self.itself, dtype)  # [c, b, span]

    def _additive(self, allowed: Tensor, dtype: torch.dtype) -> Tensor:
        """``[..., b, span]`` booleans → ``[-1, 1, b, span]``, 0 where allowed and -inf elsewhere."""
        bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))
        return bias.view(-1, 1, self.b, self.span)

    def put_queries(self, t: Tensor, blocks: Tensor, sequence: int, start: int) -> None:
        """Writes query blocks ``[c, H, b, d]`` from block ``start`` on into ``t[sequence]``, inside the sequence."""
        rows = blocks.transpose(0, 1).reshape(self.heads, -1, self.dim)  # [H, c * b, d]
        first = start * self.b
        t[sequence, :, first : first + rows.shape[1]] = rows[:, : self.n - first]

    def add_keys(self, t: Tensor, windows: Tensor, sequence: int, start: int) -> None:
        """Adds the gradients of the keys of blocks ``start..``, ``[c, H, span, d]``, to the rows of ``t[sequence]``
        they came from, summing the overlaps."""
        c = windows.shape[0]
        first, last = start * self.b - self.window, (start + c) * self.b + self.window
        inside = first >= 0 and last <= self.n
        rows = t[sequence, :, first:last] if inside else windows.new_zeros(self.heads, last - first, self.dim)
        for offset in range(0, self.span, self.b):  # a block's keys cover whole blocks of rows, the last in part
            size = min(self.b, self.span - offset)
            self._blocks(rows[:, offset:], c, size).add_(windows[:, :, offset : offset + size])
        if not inside:
            t[sequence, :, max(0, first) : min(last, self.n)] += rows[:, max(0, -first) : self.n - first]


class _FusedWindowAttention(torch.autograd.Function):
    """Forward and backward of :func:`window_attention` on CPU without dropout; see the module docstring."""

    @staticmethod
    def forward(ctx: Any, q: Tensor, k: Tensor, v: Tensor, mask: Tensor, window: int) -> Tensor:
        tiling = _Tiling(q.shape, window, mask)
        out = torch.empty_like(q, memory_format=torch.contiguous_format)
        lse = q.new_empty(
            tiling.batch, tiling.count, tiling.heads, tiling.b, dtype=torch.promote_types(q.dtype, torch.float32)
        )
        for sequence, start, end in tiling.chunks():
            chunk, lse[sequence, start:end] = _FUSED_CPU(
                tiling.queries(q, sequence, start, end),
                tiling.keys(k, sequence, start, end),
                tiling.keys(v, sequence, start, end),
                attn_mask=tiling.bias(sequence, start, end, q.dtype),
            )
            tiling.put_queries(out, chunk, sequence, start)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.tiling = tiling
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        q, k, v, out, lse = ctx.saved_tensors
        tiling = ctx.tiling
        dq = torch.empty_like(q, memory_format=torch.contiguous_format)
        dk = torch.zeros_like(k, memory_format=torch.contiguous_format)
        dv = torch.zeros_like(v, memory_format=torch.contiguous_format)
        for sequence, start, end in tiling.chunks():
            chunk_q, chunk_k, chunk_v = _FUSED_CPU_BACKWARD(
                tiling.queries(grad, sequence, start, end),
                tiling.queries(q, sequence, start, end),
                tiling.keys(k, sequence, start, end),
                tiling.keys(v, sequence, start, end),
                tiling.queries(out, sequence, start, end),
                lse[sequence, start:end],
                0.0,
                False,
                attn_mask=tiling.bias(sequence, start, end, q.dtype),
            )
            tiling.put_queries(dq, chunk_q, sequence, start)
            tiling.add_keys(dk, chunk_k, sequence, start)
            tiling.add_keys(dv, chunk_v, sequence, start)
        return dq, dk, dv, None, None


def fused_kernel_applies(q: Tensor, window: int, dropout_p: float) -> bool:
    """Whether :func:`window_attention` uses the fused CPU kernel: on CPU, without dropout, for sequences of at least
    :data:`FUSED_MIN_BLOCKS` blocks (it runs sequence by sequence); otherwise the chunked one, which batches them."""
    blocks = -(-q.shape[-2] // max(window, WINDOW_BLOCK))
    return q.device.type == "cpu" and dropout_p == 0 and blocks >= FUSED_MIN_BLOCKS


def window_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, window: int, dropout_p: float = 0.0) -> Tensor:
    """Element ``i`` attends to the real elements ``j`` with ``|i - j| <= window`` (and always to itself).

    Exact: the weights are those of a band-masked softmax over all keys. Time is about
    ``N * 3b`` scores (``b = max(window, 16)``) instead of ``N²``, and memory beyond the inputs
    and output is ``O(N)`` per head, in the forward and the backward pass (see
    :func:`fused_kernel_applies` for which kernel runs). Dropout on the weights is drawn from a
    generator seeded from torch's global one, and redrawn identically in the backward pass.

    Shapes:
        q, k, v: ``[B, H, N, d]``
        mask: ``[B, N]``
        output: ``[B, H, N, d]``
    """
    with torch.autocast(device_type=q.device.type, enabled=False):  # the kernels pick their own precision per step
        if fused_kernel_applies(q, window, dropout_p):
            return _FusedWindowAttention.apply(q, k, v, mask, window)
        return _WindowAttention.apply(q, k, v, mask, window, dropout_p)
