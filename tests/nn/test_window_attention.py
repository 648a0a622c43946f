"""The window kernels: each equals the band-masked reference (values, gradients, padding, chunk seams), and the
chunked one's backward is consistent with its forward under dropout.

The tensors live on the ``device`` fixture's device (``ARENA_TEST_DEVICE``), so the same tests check a GPU.
"""

from __future__ import annotations

import pytest
import torch

from framework.nn import window_attention as kernel
from framework.nn.attention import reference_attention

B, H, d = 2, 3, 4


def inputs(n: int, device: torch.device, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, H, n, d, dtype=dtype, device=device, requires_grad=True) for _ in range(3))
    mask = torch.arange(n, device=device)[None, :] < torch.tensor([n, max(1, n - 5)], device=device)[:, None]
    return q, k, v, mask


@pytest.fixture(params=["fused", "chunked"])
def which_kernel(request, monkeypatch, device) -> str:
    """Makes :func:`window_attention` use one kernel without dropout (the fused one needs the CPU)."""
    if request.param == "fused" and device.type != "cpu":
        pytest.skip("the fused window kernel runs on CPU")
    monkeypatch.setattr(kernel, "fused_kernel_applies", lambda q, window, dropout_p: request.param == "fused")
    return request.param


def test_the_fused_kernel_runs_on_cpu_without_dropout_for_sequences_of_many_blocks():
    q = torch.zeros(1, 1, 64 * kernel.FUSED_MIN_BLOCKS, 2)
    assert kernel.fused_kernel_applies(q, 64, 0.0)
    assert not kernel.fused_kernel_applies(q, 64, 0.1)
    assert not kernel.fused_kernel_applies(q.to("meta"), 64, 0.0)
    assert not kernel.fused_kernel_applies(q, 128, 0.0)  # half as many blocks: the chunked kernel batches them


@pytest.mark.parametrize(("n", "window"), [(83, 2), (83, 16), (83, 20), (7, 100), (64, 64), (1, 3)])
def test_each_kernel_gives_the_reference_values_and_gradients(n, window, which_kernel, monkeypatch, device):
    monkeypatch.setattr(kernel, "CHUNK_SCORES", 1)  # every block its own chunk: the chunk seams are exercised
    q, k, v, mask = inputs(n, device)
    ours = kernel.window_attention(q, k, v, mask, window)
    expected = reference_attention(q, k, v, mask, window=window)
    real = mask[:, None, :, None]
    torch.testing.assert_close(ours * real, expected * real)
    weight = torch.randn_like(ours) * real
    for got, want in zip(
        torch.autograd.grad((ours * weight).sum(), (q, k, v)), torch.autograd.grad((expected * weight).sum(), (q, k, v))
    ):
        torch.testing.assert_close(got, want)


def test_the_backward_pass_matches_numerical_gradients_with_dropout(device):
    q, k, v, mask = inputs(40, device)

    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(1)  # the same dropout draws at every call
        return kernel.window_attention(q, k, v, mask, 5, dropout_p=0.3)

    assert torch.autograd.gradcheck(attend, (q, k, v))


def test_dropout_drops_weights_and_the_same_seed_repeats_them(device):
    q, k, v, mask = inputs(40, device)
    torch.manual_seed(2)
    first = kernel.window_attention(q, k, v, mask, 5, dropout_p=0.5)
    torch.manual_seed(2)
    again = kernel.window_attention(q, k, v, mask, 5, dropout_p=0.5)
    plain = kernel.window_attention(q, k, v, mask, 5)
    assert torch.equal(first, again) and not torch.allclose(first, plain)


def test_under_bfloat16_autocast_the_output_stays_close_to_float32(which_kernel, device):
    q, k, v, mask = inputs(70, device, torch.float32)
    exact = kernel.window_attention(q, k, v, mask, 8)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        low = kernel.window_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), mask, 8)
    low.float().sum().backward()
    assert low.dtype == torch.bfloat16 and q.grad is not None
    torch.testing.assert_close(low.float(), exact, atol=0.05, rtol=0.05)
