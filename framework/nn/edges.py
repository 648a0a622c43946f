"""Natural graphs over padded batches: a band over sequences, the pixel grid over images.

Every function returns ``edge_index`` ``[2, E]`` (source, target) over the batch's flattened
``b * N + i`` element indices, joining real elements only, each directed pair once and no
self-loops (the contract of :attr:`framework.core.batch.VectorSet.edge_index`).
"""

from __future__ import annotations

import torch
from torch import Tensor

GRID_NEIGHBOURHOODS = (4, 8)


def _offset_edges(mask: Tensor, offsets: Tensor, allowed: Tensor | None = None) -> Tensor:
    """Edges ``i + o → i`` between real elements of one set, for every flattened offset ``o`` in ``offsets``.

    ``mask`` ``[B, N]``; ``allowed`` ``[N, O]`` optionally limits which offsets apply at each position.
    With ascending ``offsets`` the edges come out sorted by target, then source (what the graph scope reads fastest).
    """
    B, N = mask.shape
    targets = torch.arange(B * N, device=mask.device)[mask.flatten()]  # [T]
    sources = targets[:, None] + offsets[None, :]  # [T, O]
    inside = (sources >= 0) & (sources < B * N)
    inside &= mask.flatten()[sources.clamp(0, B * N - 1)]
    inside &= sources.clamp(0, B * N - 1) // N == targets[:, None] // N  # never into another set
    if allowed is not None:
        inside &= allowed[targets % N]
    target_index = targets[:, None].expand_as(sources)  # [T, O]
    return torch.stack([sources[inside], target_index[inside]])  # [2, E]


def band_edges(mask: Tensor, width: int) -> Tensor:
    """Each element of a sequence joined to the real elements within ``±width`` (``width=1``: a chain).

    Shapes:
        mask: ``[B, N]``
        output: ``[2, E]``
    """
    if width < 1:
        raise ValueError(f"band width must be 1 or more, got {width}")
    steps = torch.arange(1, width + 1, device=mask.device)  # [width]
    return _offset_edges(mask, torch.cat([-steps.flip(0), steps]))


def grid_edges(mask: Tensor, grid: tuple[int, int], neighbours: int) -> Tensor:
    """Each pixel of an ``H×W`` raster joined to its 4 (edge-sharing) or 8 (also corner-sharing) neighbours.

    Shapes:
        mask: ``[B, N]``, ``N = H·W`` in raster order
        output: ``[2, E]``
    """
    if neighbours not in GRID_NEIGHBOURHOODS:
        raise ValueError(f"grid neighbourhood must be one of {GRID_NEIGHBOURHOODS}, got {neighbours}")
    height, width = grid
    steps = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    if neighbours == 4:
        steps = [(dr, dc) for dr, dc in steps if dr == 0 or dc == 0]
    rows = torch.arange(mask.shape[1], device=mask.device)[:, None] // width  # [N, 1]
    cols = torch.arange(mask.shape[1], device=mask.device)[:, None] % width  # [N, 1]
    dr = torch.tensor([step[0] for step in steps], device=mask.device)  # [O]
    dc = torch.tensor([step[1] for step in steps], device=mask.device)  # [O]
    # A raster offset would wrap around a row's end; a neighbour off the image gives no edge.
    on_image = (rows + dr >= 0) & (rows + dr < height) & (cols + dc >= 0) & (cols + dc < width)  # [N, O]
    return _offset_edges(mask, dr * width + dc, on_image)


def normalize_edges(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Drops self-loops and repeated pairs, so that no pair counts twice; sorted by target then source.

    Shapes:
        edge_index: ``[2, E]``
        output: ``[2, E']``, ``E' <= E``
    """
    source, target = edge_index
    keep = source != target
    key = torch.unique(target[keep] * num_nodes + source[keep])  # [E'], sorted
    return torch.stack([key % num_nodes, key // num_nodes])
