"""Positional encodings: chosen from the layout, distinct per position, validated."""

from __future__ import annotations

import pytest
import torch

from framework.core.batch import VectorSet
from framework.core.errors import ConfigError
from framework.core.spec import Layout
from framework.nn.positional import PositionalEncoding


def grid_batch(h: int = 3, w: int = 4) -> VectorSet:
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    pos = torch.stack([rows.flatten(), cols.flatten()], -1)[None]
    return VectorSet(
        x=torch.zeros(1, h * w, 8), mask=torch.ones(1, h * w, dtype=torch.bool), y=torch.zeros(1), pos=pos, grid=(h, w)
    )


def test_none_leaves_the_vectors_unchanged():
    pe = PositionalEncoding("none", "auto", 8, Layout.SEQUENCE, 10)
    h = torch.randn(2, 5, 8)
    assert torch.equal(pe(h, VectorSet(x=h, mask=torch.ones(2, 5, dtype=torch.bool), y=torch.zeros(2))), h)


def test_auto_picks_2d_on_grids_and_1d_on_sequences():
    assert PositionalEncoding("sinusoidal", "auto", 8, Layout.GRID, (3, 4)).dims == "2d"
    assert PositionalEncoding("sinusoidal", "auto", 8, Layout.SEQUENCE, 10).dims == "1d"


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
@pytest.mark.parametrize("dims", ["1d", "2d"])
def test_every_grid_cell_gets_a_distinct_position_vector(kind, dims):
    torch.manual_seed(0)
    pe = PositionalEncoding(kind, dims, 8, Layout.GRID, (3, 4))
    batch = grid_batch()
    vectors = pe(batch.x, batch)[0]
    assert torch.cdist(vectors, vectors).add(torch.eye(12)).min() > 1e-4


def test_2d_positions_on_a_sequence_are_a_config_error():
    with pytest.raises(ConfigError, match="dims='2d'"):
        PositionalEncoding("sinusoidal", "2d", 8, Layout.SEQUENCE, 10)


def test_unknown_kind_lists_the_allowed_ones():
    with pytest.raises(ConfigError, match="none, sinusoidal, learned"):
        PositionalEncoding("rotary", "auto", 8, Layout.SEQUENCE, 10)
