"""The optimizer with its own options for named groups of parameters (the GCN paper's first-layer weight decay)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from framework.core.errors import ConfigError
from framework.train.optim import optimizer_factory

ADAM = OmegaConf.create({"_target_": "torch.optim.Adam", "lr": 0.01, "weight_decay": 0.0})


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def groups(**named: dict) -> OmegaConf:
    return OmegaConf.create(named)


def test_a_group_gets_its_options_and_the_rest_the_optimizers_own():
    model = TwoLayers()
    optimizer = optimizer_factory(ADAM, groups(first={"params": "encoder.0.*", "weight_decay": 5e-4}))(model)
    first, rest = optimizer.param_groups
    assert first["params"] == [model.encoder[0].weight, model.encoder[0].bias] and first["weight_decay"] == 5e-4
    assert rest["params"] == [model.encoder[2].weight, model.encoder[2].bias] and rest["weight_decay"] == 0.0


def test_without_groups_every_parameter_is_in_one_group_in_model_order():
    model = TwoLayers()
    (group,) = optimizer_factory(ADAM, groups())(model).param_groups
    assert group["params"] == list(model.parameters())


def test_a_parameter_belongs_to_the_first_group_it_matches():
    model = TwoLayers()
    optimizer = optimizer_factory(
        ADAM, groups(weights={"params": "*.weight", "lr": 0.1}, first={"params": "encoder.0.*", "lr": 0.2})
    )(model)
    weights, first, rest = optimizer.param_groups
    assert weights["params"] == [model.encoder[0].weight, model.encoder[2].weight]
    assert first["params"] == [model.encoder[0].bias] and rest["params"] == [model.encoder[2].bias]


@pytest.mark.parametrize(
    ("named", "message"),
    [
        (
            {"first": {"params": "encoder.9.*", "weight_decay": 0.1}},
            "param_groups.first.params='encoder.9.*': matches no",
        ),
        ({"first": {"weight_decay": 0.1}}, "param_groups.first.params=None: must be a parameter-name pattern"),
        ({"first": {"params": "encoder.*", "decay": 0.1}}, "param_groups.first.decay=0.1: is not an option of"),
        (
            {"first": {"params": "encoder.*", "weight_decay": -1}},
            "param_groups.first.weight_decay=-1: must be a number",
        ),
        ({"first": 3}, "param_groups.first=3: must be {params: <name pattern>"),
    ],
    ids=["matches_nothing", "no_pattern", "unknown_option", "negative", "not_a_mapping"],
)
def test_a_bad_group_is_one_config_error_naming_its_key(named, message):
    with pytest.raises(ConfigError, match="^invalid config value " + message.replace("(", r"\(").replace("*", r"\*")):
        optimizer_factory(ADAM, groups(**named))(TwoLayers())


def test_groups_for_the_encoder_are_checked_before_the_input_encoder_exists():
    factory = optimizer_factory(
        ADAM, groups(later={"params": "input_encoder.*", "lr": 0.1}, now={"params": "encoder.9.*"})
    )
    named = [(f"encoder.{name}", p) for name, p in TwoLayers().encoder.named_parameters()]
    with pytest.raises(ConfigError, match="param_groups.now.params"):
        factory.check_early(named, later="input_encoder.")
    optimizer_factory(ADAM, groups(later={"params": "input_encoder.*"})).check_early(named, later="input_encoder.")
    assert isinstance(factory.make([torch.zeros(1, requires_grad=True)]), torch.optim.Adam)


@pytest.mark.parametrize("pattern", ["nothing*", "input.*", "encoder.[xy]*"])
def test_a_pattern_no_parameter_name_can_match_is_refused_before_the_input_encoder_exists(pattern):
    factory = optimizer_factory(ADAM, groups(first={"params": pattern, "lr": 0.1}))
    named = [(f"encoder.{name}", p) for name, p in TwoLayers().encoder.named_parameters()]
    with pytest.raises(ConfigError, match="param_groups.first.params=.*matches no parameter"):
        factory.check_early(named, later="input_encoder.")
