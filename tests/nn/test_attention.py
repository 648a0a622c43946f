"""The attention function, the multi-head layer and their invariances."""

from __future__ import annotations

import pytest
import torch

from framework.core.batch import VectorSet
from framework.nn.attention import MultiHeadSelfAttention, attend, reference_attention

B, N, H, D = 3, 7, 4, 32


def padded_mask(lengths: list[int], n: int = N) -> torch.Tensor:
    return torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]


def vector_set(h: torch.Tensor, mask: torch.Tensor) -> VectorSet:
    return VectorSet(x=h, mask=mask, y=torch.zeros(h.shape[0], dtype=torch.long))


@pytest.mark.parametrize("lengths", [[N, N, N], [N, 4, 1]], ids=["no_padding", "padding"])
def test_full_scope_equals_the_lecture_reference(lengths):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, B, H, N, D // H).unbind(0)
    mask = padded_mask(lengths)
    ours = attend(q, k, v, vector_set(torch.zeros(B, N, D), mask), scope="full")
    torch.testing.assert_close(ours, reference_attention(q, k, v, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("lengths", [[N, N, N], [N, 4, 1]], ids=["no_padding", "padding"])
def test_multihead_layer_equals_torch_multihead_attention(lengths):
    torch.manual_seed(0)
    ours = MultiHeadSelfAttention(D, H).eval()
    torch_mha = torch.nn.MultiheadAttention(D, H, batch_first=True).eval()
    with torch.no_grad():
        torch_mha.in_proj_weight.copy_(ours.qkv.weight)
        torch_mha.in_proj_bias.copy_(ours.qkv.bias)
        torch_mha.out_proj.weight.copy_(ours.out.weight)
        torch_mha.out_proj.bias.copy_(ours.out.bias)
    h, mask = torch.randn(B, N, D), padded_mask(lengths)
    expected, _ = torch_mha(h, h, h, key_padding_mask=~mask, need_weights=False)
    actual = ours(h, vector_set(h, mask))
    torch.testing.assert_close(actual[mask], expected[mask], atol=1e-5, rtol=1e-5)


def test_without_positions_permuting_the_input_permutes_the_attention_output():
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(D, H).eval()
    h, mask = torch.randn(B, N, D), padded_mask([N, N, N])
    perm = torch.randperm(N)
    out = layer(h, vector_set(h, mask))
    permuted_out = layer(h[:, perm], vector_set(h[:, perm], mask))
    torch.testing.assert_close(permuted_out, out[:, perm], atol=1e-5, rtol=1e-5)


def test_padded_keys_get_no_attention():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 1, N, 8).unbind(0)
    mask = padded_mask([3])
    changed_v = v.clone()
    changed_v[..., 3:, :] = 1e6
    batch = vector_set(torch.zeros(1, N, 8), mask)
    torch.testing.assert_close(attend(q, k, v, batch), attend(q, k, changed_v, batch))


WINDOW_CASES = [(37, 4), (100, 7), (50, 20), (5, 8), (64, 64), (1, 3)]
"""(length, window): several blocks, odd lengths, a window larger than a block, longer than the sequence."""


def padded_lengths(n: int) -> list[int]:
    return [n, max(1, n - 3), max(1, n // 2)]


@pytest.mark.parametrize(("n", "window"), WINDOW_CASES)
def test_window_scope_equals_the_band_masked_reference(n, window):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, B, H, n, D // H, dtype=torch.float64).unbind(0)
    mask = padded_mask(padded_lengths(n), n)
    ours = attend(q, k, v, vector_set(torch.zeros(B, n, D), mask), scope="window", window=window)
    expected = reference_attention(q, k, v, mask, window=window)
    torch.testing.assert_close(
        ours[mask.unsqueeze(1).expand(-1, H, -1)], expected[mask.unsqueeze(1).expand(-1, H, -1)], atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize(("n", "window"), WINDOW_CASES)
def test_window_scope_gradients_equal_the_band_masked_reference(n, window):
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, H, n, D // H, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = padded_mask(padded_lengths(n), n)
    weight = torch.randn(B, H, n, D // H, dtype=torch.float64) * mask[:, None, :, None]  # padded rows carry no loss
    ours = attend(q, k, v, vector_set(torch.zeros(B, n, D), mask), scope="window", window=window)
    expected = reference_attention(q, k, v, mask, window=window)
    for got, want in zip(
        torch.autograd.grad((ours * weight).sum(), (q, k, v)), torch.autograd.grad((expected * weight).sum(), (q, k, v))
    ):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_a_window_covering_the_sequence_equals_full_attention():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, B, H, N, D // H).unbind(0)
    batch = vector_set(torch.zeros(B, N, D), padded_mask([N, 4, 1]))
    torch.testing.assert_close(
        attend(q, k, v, batch, scope="window", window=N)[batch.mask.unsqueeze(1).expand(-1, H, -1)],
        attend(q, k, v, batch, scope="full")[batch.mask.unsqueeze(1).expand(-1, H, -1)],
        atol=1e-5,
        rtol=1e-5,
    )


def test_window_scope_gives_padded_queries_finite_outputs():
    q, k, v = torch.randn(3, 1, 1, 80, 4).unbind(0)
    out = attend(q, k, v, vector_set(torch.zeros(1, 80, 4), padded_mask([3], 80)), scope="window", window=2)
    assert torch.isfinite(out).all()


def test_scopes_receive_only_the_options_they_declare():
    q = torch.randn(1, 1, N, 4)
    batch = vector_set(torch.zeros(1, N, 4), padded_mask([N], N))
    torch.testing.assert_close(attend(q, q, q, batch, scope="full", window=2), attend(q, q, q, batch, scope="full"))


def test_unknown_scope_names_the_available_ones():
    q = torch.zeros(1, 1, 2, 4)
    with pytest.raises(ValueError, match="unknown attention scope 'nope'; available: full, graph, window"):
        attend(q, q, q, vector_set(torch.zeros(1, 2, 4), padded_mask([2], 2)), scope="nope")
