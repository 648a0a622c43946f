"""The recurrent encoder's CPU path: a padded batch gives what the packed recurrence gives, values and gradients."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from framework.core.batch import VectorSet
from framework.core.spec import Layout, ModalitySpec, Target
from plugins.models.rnn import RecurrentEncoder

SPEC = ModalitySpec("toy", "toy", Layout.SEQUENCE, Target.ELEMENT, 5, scopes=("full",), max_positions=16)


def padded(dim: int) -> VectorSet:
    lengths = torch.tensor([16, 11, 5, 1])
    mask = torch.arange(16)[None, :] < lengths[:, None]
    return VectorSet(
        x=torch.randn(4, 16, dim, dtype=torch.float64, requires_grad=True), mask=mask, y=torch.zeros_like(mask)
    )


def packed_reference(encoder: RecurrentEncoder, batch: VectorSet) -> torch.Tensor:
    """What the encoder computes through PyTorch's own packed recurrence."""
    packed = pack_padded_sequence(batch.x, batch.lengths, batch_first=True, enforce_sorted=False)
    out, _ = pad_packed_sequence(encoder.rnn(packed)[0], batch_first=True, total_length=batch.x.shape[1])
    return encoder.norm(out)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 3])
def test_a_padded_batch_on_cpu_gives_the_packed_recurrences_outputs_and_gradients(cell, layers):
    torch.manual_seed(0)
    encoder = RecurrentEncoder(SPEC, 8, layers, cell, bidirectional=True, dropout=0.0).double()
    batch = padded(8)
    real = batch.mask[..., None]

    ours, reference = encoder(batch.x, batch), packed_reference(encoder, batch)
    torch.testing.assert_close(ours * real, reference * real)
    weights = [batch.x, *encoder.parameters()]
    torch.testing.assert_close(
        torch.autograd.grad((ours * real).square().sum(), weights),
        torch.autograd.grad((reference * real).square().sum(), weights),
    )


def test_the_layer_templates_hold_no_parameters_and_no_memory():
    encoder = RecurrentEncoder(SPEC, 8, 2, "lstm", bidirectional=True, dropout=0.1)
    bare = torch.nn.LSTM(8, 4, 2, batch_first=True, bidirectional=True)
    assert sum(p.numel() for p in encoder.rnn.parameters()) == sum(p.numel() for p in bare.parameters())
    assert sorted(encoder.state_dict()) == sorted(
        [f"rnn.{name}" for name in bare.state_dict()] + ["norm.weight", "norm.bias"]
    )
    assert all(p.device.type == "meta" for shape in encoder._layers for p in shape.parameters())


def test_dropout_between_layers_is_drawn_only_in_training():
    torch.manual_seed(0)
    encoder = RecurrentEncoder(SPEC, 8, 2, "lstm", bidirectional=True, dropout=0.5).double()
    batch = padded(8)
    with torch.no_grad():
        encoder.eval()
        torch.testing.assert_close(encoder(batch.x, batch), encoder(batch.x, batch))
        encoder.train()
        assert not torch.allclose(encoder(batch.x, batch), encoder(batch.x, batch))
