"""Every model plugin (one per file in conf/model): padding never leaks into real outputs."""

from __future__ import annotations

import pytest
import torch
from conftest import CONF, config_names
from hydra.utils import get_class
from omegaconf import OmegaConf

from framework.core.batch import VectorSet
from framework.core.compat import missing_for
from framework.core.spec import Layout, ModalitySpec, Target
from framework.nn.edges import band_edges
from framework.train.build import MODEL_KEYS

SEQUENCE = ModalitySpec(
    "toy", "toy", Layout.SEQUENCE, Target.ELEMENT, 5, scopes=("full",), max_positions=16, has_edges=True
)


def build_model(name: str, spec: ModalitySpec, **sizes: int):
    conf = OmegaConf.merge(OmegaConf.load(CONF / "model" / f"{name}.yaml"), sizes)
    if "scope" in conf:
        conf.scope = spec.scopes[0]
    cfg = OmegaConf.to_container(conf, resolve=True)
    for key in MODEL_KEYS:
        cfg.pop(key)
    cls = get_class(cfg.pop("_target_"))
    if missing_for(spec, cls.requirement(**cfg)) is not None:
        pytest.skip(f"{name} does not run on a {spec.layout.value} layout")
    return cls(spec=spec, **cfg).eval()


def padded_batch(dim: int) -> VectorSet:
    lengths = torch.tensor([16, 11, 5])
    mask = torch.arange(16)[None, :] < lengths[:, None]
    return VectorSet(
        x=torch.randn(3, 16, dim),
        mask=mask,
        y=torch.zeros(3, 16, dtype=torch.long),
        pos=torch.arange(16).expand(3, -1),
        edge_index=band_edges(mask, 2),
    )


@pytest.mark.parametrize("name", config_names("model"))
def test_real_outputs_do_not_change_when_padded_inputs_change(name):
    torch.manual_seed(0)
    model = build_model(name, SEQUENCE)
    batch = padded_batch(model.dim)
    noisy = batch.x.masked_fill(~batch.mask.unsqueeze(-1), 0) + 100 * torch.randn_like(batch.x) * ~batch.mask.unsqueeze(
        -1
    )
    with torch.no_grad():
        clean_out, noisy_out = model(batch.x, batch), model(noisy, batch)
    torch.testing.assert_close(noisy_out[batch.mask], clean_out[batch.mask], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", config_names("model"))
def test_set_summaries_do_not_change_when_padded_inputs_change(name):
    torch.manual_seed(0)
    model = build_model(name, SEQUENCE)
    batch = padded_batch(model.dim)
    noisy = batch.x + 100 * torch.randn_like(batch.x) * ~batch.mask.unsqueeze(-1)
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_set(noisy, batch), model.forward_set(batch.x, batch), atol=1e-5, rtol=1e-5
        )


@pytest.mark.parametrize("name", config_names("model"))
def test_a_set_gives_the_same_outputs_alone_as_inside_a_padded_batch(name):
    torch.manual_seed(0)
    model = build_model(name, SEQUENCE)
    batch = padded_batch(model.dim)
    mask = batch.mask[2:, :5]
    alone = VectorSet(
        x=batch.x[2:, :5], mask=mask, y=batch.y[2:, :5], pos=batch.pos[2:, :5], edge_index=band_edges(mask, 2)
    )
    with torch.no_grad():
        torch.testing.assert_close(model(alone.x, alone)[0], model(batch.x, batch)[2, :5], atol=1e-5, rtol=1e-5)


def test_window_fc_sees_exactly_k_neighbours_on_each_side():
    from plugins.models.window_fc import WindowFCEncoder

    torch.manual_seed(0)
    model = WindowFCEncoder(SEQUENCE, dim=8, window=2, hidden=16, layers=1, dropout=0.0).eval()
    batch = padded_batch(8)
    changed = batch.x.clone()
    changed[0, 10] += 1.0
    with torch.no_grad():
        moved = (model(changed, batch) - model(batch.x, batch)).abs().sum(-1)[0] > 0
    assert moved.nonzero().flatten().tolist() == [8, 9, 10, 11, 12]


@pytest.mark.parametrize("name", config_names("model"))
@pytest.mark.parametrize("size", ["dim", "layers"])
def test_a_size_no_memory_could_hold_is_refused_before_anything_is_built(name, size):
    from framework.core.errors import ConfigError

    key = "hidden" if name in ("mlp", "window_fc") and size == "dim" else size  # their width is hidden
    with pytest.raises(ConfigError, match=rf"^invalid config value {key}=1000000000000: .* more than this machine's"):
        build_model(name, SEQUENCE, **{key: 10**12})


def test_a_negative_window_is_a_config_error():
    from framework.core.errors import ConfigError
    from plugins.models.window_fc import WindowFCEncoder

    with pytest.raises(ConfigError, match="window=-1: must be 0 or more"):
        WindowFCEncoder(SEQUENCE, dim=8, window=-1, hidden=16, layers=1, dropout=0.0)


def test_attention_dropout_follows_dropout_unless_set():
    conf = OmegaConf.load(CONF / "model" / "attn.yaml")
    conf.dropout = 0.3
    assert conf.attention_dropout == 0.3
    conf.attention_dropout = 0.0
    assert conf.dropout == 0.3 and conf.attention_dropout == 0.0


def test_attention_dropout_is_the_only_randomness_when_dropout_is_zero():
    from plugins.models.attn import AttentionEncoder

    model = AttentionEncoder(
        SEQUENCE,
        dim=8,
        layers=1,
        heads=2,
        ff_mult=2,
        dropout=0.0,
        attention_dropout=0.5,
        scope="full",
        window=4,
        residual=True,
        pool="mean",
    ).train()
    batch = padded_batch(8)
    assert not torch.equal(model(batch.x, batch), model(batch.x, batch))
    model.blocks[0].attn.dropout = 0.0
    assert torch.equal(model(batch.x, batch), model(batch.x, batch))
