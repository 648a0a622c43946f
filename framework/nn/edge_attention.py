"""Dot-product attention along the edges of a graph, in time and memory linear in the number of edges.

The edges and self-loops, sorted by target then source, are the CSR pattern of the attention
matrix (row = target), repeated for each head on the diagonal of one block matrix so that
one kernel call serves all heads: the scores are a sampled matrix product
(``torch.sparse.sampled_addmm``), the softmax reduces each row's segment
(``torch.segment_reduce``), the weighted sum of values is a sparse-dense product. A
hand-written backward uses the same kernels (the transposed pattern for keys and values), so
no ``[E, H, d]`` tensor is formed: memory is ``O(E · H + N · H · d)``, time ``O(E · H · d)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

CsrIndices = tuple[Tensor, Tensor]
"""``(crow_indices, col_indices)`` of a sparse CSR matrix."""


def _block_diagonal(crow: Tensor, col: Tensor, heads: int, num_nodes: int, index_dtype: torch.dtype) -> CsrIndices:
    """CSR indices of the block-diagonal ``[H·M, H·M]`` matrix holding the pattern ``crow, col`` once per head."""
    E = col.numel()
    shift = torch.arange(heads, device=col.device, dtype=index_dtype)[:, None]
    end = torch.full((1,), heads * E, dtype=index_dtype, device=col.device)
    block_crow = torch.cat([(crow[:-1].to(index_dtype) + shift * E).flatten(), end])
    return block_crow, (col.to(index_dtype) + shift * num_nodes).flatten()


def _csr_matrix(indices: CsrIndices, values: Tensor, num_nodes: int) -> Tensor:
    """The block-diagonal sparse matrix with ``values`` ``[H, E]`` at ``indices`` (from :func:`_block_diagonal`)."""
    H, E = values.shape
    return torch.sparse_csr_tensor(
        *indices, values.reshape(H * E), (H * num_nodes, H * num_nodes), check_invariants=False
    )


@dataclass(frozen=True, eq=False)  # eq=False: tensor fields have no single truth value
class EdgePattern:
    """The attention pattern of one graph: its edges plus a self-loop per node, as a CSR matrix (row = target).

    ``E`` counts the edges and the self-loops; ``M`` is the number of nodes, ``H`` the number of heads.
    """

    row: Tensor
    """``[E]`` target of each edge, sorted by target then source."""
    col: Tensor
    """``[E]`` source of each edge."""
    crow: Tensor
    """``[M + 1]`` where each target's edges start in ``row, col``."""
    offsets: Tensor
    """``[H, M + 1]``: ``crow`` for each head, the segments of :func:`torch.segment_reduce`."""
    blocks: CsrIndices
    """CSR indices of the block-diagonal ``[H·M, H·M]`` matrix holding the pattern once per head."""
    template: Tensor
    """That matrix with zero values: the output pattern of ``torch.sparse.sampled_addmm``."""
    index_dtype: torch.dtype
    heads: int
    num_nodes: int
    num_edges: int

    @classmethod
    def build(
        cls, edge_index: Tensor, num_nodes: int, heads: int, dtype: torch.dtype, device: torch.device
    ) -> EdgePattern:
        """The pattern of ``edge_index`` (each pair once, no self-loops) with the self-loops merged in.

        ``dtype`` is the dtype of the queries and keys whose dot products :meth:`edge_dots` samples.

        Shapes:
            edge_index: ``[2, E']``, with ``E = E' + M``
        """
        M, H = num_nodes, heads
        source, target = edge_index
        key = target * M + source  # [E'], sorts by target then source
        # framework.nn.edges returns them sorted; sort any other
        if key.numel() > 1 and not bool((key[1:] > key[:-1]).all()):
            key = key.sort().values
            source, target = key % M, key // M
        # Merge the self-loops into the sorted edges: i → i comes after every edge into a smaller
        # target and after the edges into i from smaller sources.
        position = torch.arange(key.numel(), device=device) + target + (source > target)  # [E'], each edge's slot
        nodes = torch.arange(M, device=device)
        E = key.numel() + M
        is_loop = torch.ones(E, dtype=torch.bool, device=device)  # [E]
        is_loop[position] = False
        col = torch.empty(E, dtype=torch.long, device=device)
        col[position], col[is_loop] = source, nodes
        counts = torch.bincount(target, minlength=M) + 1  # [M], edges into each node plus its self-loop
        row = nodes.repeat_interleave(counts, output_size=E)  # [E]
        crow = F.pad(counts.cumsum(0), (1, 0))  # [M + 1]
        index_dtype = torch.int32 if H * E < 2**31 else torch.long  # 32-bit indices are faster and half the memory
        blocks = _block_diagonal(crow, col, H, M, index_dtype)
        with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta", once per process
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
            template = _csr_matrix(blocks, torch.zeros(H, E, dtype=dtype, device=device), M)
        return cls(
            row=row,
            col=col,
            crow=crow,
            offsets=crow.expand(H, -1),
            blocks=blocks,
            template=template,
            index_dtype=index_dtype,
            heads=H,
            num_nodes=M,
            num_edges=E,
        )

    def edge_dots(self, a: Tensor, b: Tensor) -> Tensor:
        """``a[h, row_e] · b[h, col_e]`` for every edge ``e``.

        Shapes:
            a, b: ``[H, M, d]``
            output: ``[H, E]``
        """
        H, M, d = a.shape
        dots = torch.sparse.sampled_addmm(self.template, a.view(H * M, d), b.view(H * M, d).t(), beta=0.0)
        return dots.values().view(H, self.num_edges)  # dots: sparse [H·M, H·M] holding H·E values

    def reduce_rows(self, values: Tensor, reduce: str) -> Tensor:
        """``reduce`` (``"max"``, ``"sum"``) of ``values`` over each target's edges, at each of its edges.

        Shapes:
            values: ``[H, E]``
            output: ``[H, E]``
        """
        per_target = torch.segment_reduce(values, reduce, offsets=self.offsets, axis=1)  # [H, M]
        return per_target.index_select(1, self.row)

    def weighted_sums(self, indices: CsrIndices, values: Tensor, dense: Tensor) -> Tensor:
        """The sum over row ``i``'s edges ``e`` of ``values[h, e] * dense[h, col_e]``.

        ``indices`` are :attr:`blocks` or the transposed ones from :meth:`transpose`.

        Shapes:
            values: ``[H, E]``
            dense: ``[H, M, d]``
            output: ``[H, M, d]``
        """
        H, M, d = dense.shape
        return (_csr_matrix(indices, values, M) @ dense.view(H * M, d)).view(H, M, d)

    def transpose(self) -> tuple[Tensor, CsrIndices]:
        """The transposed pattern (row = source): the order of the edges in it, and its block-diagonal CSR indices.

        Values on this pattern's edges are ``values.index_select(1, order)`` on the transposed one.

        Shapes:
            output: ``order`` ``[E]`` and the CSR indices of an ``[H·M, H·M]`` matrix
        """
        order = torch.sort(self.col, stable=True).indices
        crow = F.pad(torch.bincount(self.col, minlength=self.num_nodes).cumsum(0), (1, 0))  # [M + 1], by source
        return order, _block_diagonal(crow, self.row[order], self.heads, self.num_nodes, self.index_dtype)


class EdgeSoftmaxAttention(torch.autograd.Function):
    """``softmax(q kᵀ / √d) v`` over an :class:`EdgePattern`'s edges, per head, with dropout on the weights.

    The backward is hand-written and not differentiable again.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, pattern: EdgePattern, dropout_p: float) -> Tensor:
        """The attended values; saves what the backward needs.

        Shapes:
            q, k, v: ``[H, M, d]``
            output: ``[H, M, d]``
        """
        scores = pattern.edge_dots(q, k) / math.sqrt(q.shape[-1])  # [H, E]
        weights = (scores - pattern.reduce_rows(scores, "max")).exp_()  # [H, E]
        weights /= pattern.reduce_rows(weights, "sum")
        kept = F.dropout(torch.ones_like(weights), dropout_p) if dropout_p > 0 else None  # 0 or 1 / (1 - p)
        out = pattern.weighted_sums(pattern.blocks, weights if kept is None else weights * kept, v)
        ctx.save_for_backward(q, k, v, out, weights, kept)
        ctx.pattern = pattern
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, Tensor, None, None]:
        q, k, v, out, weights, kept = ctx.saved_tensors
        pattern: EdgePattern = ctx.pattern
        grad = grad.contiguous()
        order, transposed = pattern.transpose()
        dropped = weights if kept is None else weights * kept
        grad_v = pattern.weighted_sums(transposed, dropped.index_select(1, order), grad)  # [H, M, d]
        grad_weights = pattern.edge_dots(grad, v)  # [H, E]
        if kept is not None:
            grad_weights *= kept
        # Softmax backward: w * (dw - sum_row w dw), where sum_row w dw = grad_i · out_i.
        grad_scores = (
            weights * (grad_weights - (grad * out).sum(-1).index_select(1, pattern.row)) / math.sqrt(q.shape[-1])
        )
        grad_q = pattern.weighted_sums(pattern.blocks, grad_scores, k)
        grad_k = pattern.weighted_sums(transposed, grad_scores.index_select(1, order), q)
        return grad_q, grad_k, grad_v, None, None


def edge_attention(q: Tensor, k: Tensor, v: Tensor, edge_index: Tensor, dropout_p: float) -> Tensor:
    """Element ``i`` attends to the sources ``j`` of its incoming edges ``j → i`` and to itself.

    Args:
        q, k, v: queries, keys and values per head.
        edge_index: (source, target) over the flattened ``b * N + i``; each pair once, no self-loops.
        dropout_p: dropout on the attention weights (pass 0 in evaluation).

    Shapes:
        q, k, v: ``[B, H, N, d]``
        edge_index: ``[2, E]``
        output: ``[B, H, N, d]``
    """
    B, H, N, d = q.shape
    pattern = EdgePattern.build(edge_index, B * N, H, q.dtype, q.device)
    q, k, v = (t.transpose(0, 1).reshape(H, B * N, d).contiguous() for t in (q, k, v))  # [H, B·N, d]
    return EdgeSoftmaxAttention.apply(q, k, v, pattern, dropout_p).view(H, B, N, d).transpose(0, 1)
