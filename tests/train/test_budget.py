"""Parameter budgets: ``model.param_budget`` scales a model's width until it has about that many parameters."""

from __future__ import annotations

import json
import re

import pytest
from conftest import config_names
from omegaconf import DictConfig

from framework.core.errors import ConfigError, IncompatibleError
from framework.train.budget import count_parameters, parse_budget
from framework.train.build import Parts, assemble, build_parts, sized_to_budget
from framework.train.run import run

CHEAP = {
    "image": ["modality=image", "modality.dataset=digits"],
    "text": ["modality=text", "modality.dataset=ambiguity"],
    "graph": ["modality=graph", "modality.dataset=sbm"],
}
"""A modality of each layout with data that needs no download (bundled, generated)."""


def set_up(cfg: DictConfig) -> Parts:
    """The parts of ``cfg`` with the modality's training data loaded, as the runner has them when it sizes the model."""
    parts = build_parts(cfg)
    parts.modality.prepare_data()
    parts.modality.setup("fit")
    return parts


def set_up_or_skip(cfg: DictConfig) -> Parts:
    """:func:`set_up`, skipping the test for a pair that fails the compatibility check."""
    try:
        return set_up(cfg)
    except IncompatibleError as error:
        pytest.skip(str(error))


def within_ten_percent(count: int, budget: int) -> bool:
    return abs(count - budget) <= 0.1 * budget


@pytest.mark.parametrize("budget", ["50k", "200k"])
@pytest.mark.parametrize("model", config_names("model"))
@pytest.mark.parametrize("modality", CHEAP)
def test_a_budget_is_met_within_ten_percent_by_every_model_on_every_layout(make_config, modality, model, budget):
    cfg = make_config(*CHEAP[modality], f"model={model}", f"model.param_budget={budget}")
    sized, _ = sized_to_budget(cfg, set_up_or_skip(cfg))
    assert within_ten_percent(count_parameters(assemble(sized)), parse_budget(budget))


def test_the_chosen_width_gives_the_count_closest_to_the_budget(make_config):
    cfg = make_config(*CHEAP["image"], "model=attn", "model.param_budget=100k")
    _, width = sized_to_budget(cfg, set_up(cfg))
    counts = {  # heads=4: the neighbouring widths the model accepts are 4 apart
        dim: count_parameters(assemble(set_up(make_config(*CHEAP["image"], "model=attn", f"model.dim={dim}"))))
        for dim in (width - 4, width, width + 4)
    }
    assert min(counts, key=lambda dim: abs(counts[dim] - 100_000)) == width


@pytest.mark.parametrize(
    ("overrides", "multiple"),
    [
        (["model=attn", "model.heads=8"], 8),
        (["model=rnn", "model.bidirectional=true"], 2),
        (["model=gnn", "model.conv=gat", "model.heads=16"], 16),
    ],
    ids=["attn_heads", "rnn_bidirectional", "gat_heads"],
)
def test_the_width_found_obeys_the_models_own_rules(make_config, overrides, multiple):
    cfg = make_config(*CHEAP["text"], *overrides, "model.param_budget=150k")
    sized, width = sized_to_budget(cfg, set_up(cfg))
    assert width % multiple == 0 and sized.encoder.dim == width


def test_the_window_fc_budget_scales_its_hidden_layers_and_keeps_dim(make_config):
    cfg = make_config(*CHEAP["text"], "model=window_fc", "model.param_budget=150k")
    sized, width = sized_to_budget(cfg, set_up(cfg))
    assert sized.encoder.dim == cfg.model.dim and sized.encoder.mlp[0].out_features == width != cfg.model.hidden


def test_a_budget_below_the_smallest_model_names_the_smallest_count(make_config):
    cfg = make_config(*CHEAP["text"], "model=attn", "model.param_budget=1k")
    with pytest.raises(ConfigError) as error:
        sized_to_budget(cfg, set_up(cfg))
    smallest = count_parameters(assemble(set_up(make_config(*CHEAP["text"], "model=attn", "model.dim=4"))))
    assert str(error.value) == (
        f"invalid config value model.param_budget=1000: below the smallest attn model on text "
        f"({smallest:,} parameters at dim=4); use at least {smallest:,}"
    )


def test_a_budget_that_falls_between_two_widths_names_the_closest_count(make_config):
    # On 8×8 images the attention model at dim=4 has a few hundred parameters and the next one (dim=8) over 1,100.
    at_4, at_8 = (
        count_parameters(assemble(set_up(make_config(*CHEAP["image"], "model=attn", f"model.dim={dim}"))))
        for dim in (4, 8)
    )
    cfg = make_config(*CHEAP["image"], "model=attn", "model.param_budget=1000")
    with pytest.raises(ConfigError) as error:
        sized_to_budget(cfg, set_up(cfg))
    assert at_4 < 900 and at_8 > 1100
    assert str(error.value).endswith(
        f"no dim brings the attn model on image within ±10%; the closest is {at_4:,} parameters at dim=4"
    )


@pytest.mark.parametrize("model", config_names("model"))
def test_no_budget_is_the_default_and_keeps_the_configured_width(make_config, model):
    cfg = make_config(*CHEAP["text"], f"model={model}")
    parts = set_up_or_skip(cfg)
    sized, width = sized_to_budget(cfg, parts)
    assert cfg.model.param_budget is None and sized is parts and width == cfg.model[type(parts.encoder).width_key]


def test_a_run_reports_the_budget_the_width_and_the_exact_count(make_config, tmp_path):
    run(make_config(*CHEAP["image"], "model=cnn", "model.param_budget=100k"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    unbudgeted = set_up(make_config(*CHEAP["image"], "model=cnn", f"model.dim={results['width']['dim']}"))
    assert results["param_budget"] == 100_000 and within_ten_percent(results["params"], 100_000)
    assert results["params"] == count_parameters(assemble(unbudgeted))


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (None, None),
        (250000, 250_000),
        ("100k", 100_000),
        ("100K", 100_000),
        ("1.5M", 1_500_000),
        ("2m", 2_000_000),
        (1e5, 100_000),
    ],
)
def test_a_budget_is_a_count_with_an_optional_k_or_m(value, count):
    assert parse_budget(value) == count


@pytest.mark.parametrize("value", ["lots", "1.5x", "k", "", "-5", 0, -5, True, "1000001M"])
def test_a_budget_that_is_not_a_positive_count_is_refused_with_the_accepted_forms(value):
    with pytest.raises(
        ConfigError, match=re.escape(f"model.param_budget={value!r}: use a positive parameter count up to 1,000,000M")
    ):
        parse_budget(value)


def test_a_junk_budget_fails_before_any_data_loads(make_config):
    with pytest.raises(ConfigError, match=re.escape("model.param_budget='lots': use a positive parameter count")):
        build_parts(make_config("model.param_budget=lots"))
