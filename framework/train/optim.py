"""The optimizer of a run: the configured class and options, with its own options for named groups of parameters.

A group is chosen by a pattern over parameter names (``encoder.layers.0.*``), as the GCN paper's
weight decay on the first layer only needs; parameters no group names keep the optimizer's options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from framework.config.checks import instantiated, is_number, mentioned
from framework.core.errors import ConfigError, require


@dataclass(frozen=True)
class ParamGroup:
    """Parameters whose names match ``pattern`` (``fnmatch`` style), trained with ``options`` (``weight_decay``)."""

    name: str
    pattern: str
    options: dict[str, Any]


@dataclass(frozen=True)
class GroupedOptimizer:
    """Builds the optimizer for a model, each group of parameters with its own options.

    Args:
        make: the optimizer class with its default options, taking parameters or parameter groups.
        groups: the named groups, in order; a parameter belongs to the first group whose pattern it matches.
    """

    make: Callable[[Iterable[Any]], torch.optim.Optimizer]
    groups: tuple[ParamGroup, ...] = ()

    def __call__(self, model: nn.Module) -> torch.optim.Optimizer:
        return self.make(self.split(model.named_parameters()))

    def split(self, named: Iterable[tuple[str, nn.Parameter]]) -> list[dict[str, Any]]:
        """The optimizer's parameter groups: one per named group, then the rest with the optimizer's own options."""
        members = self.members(named)
        found = [{"params": members[group.name], **group.options} for group in self.groups]
        return found + ([{"params": members[None]}] if members[None] else [])

    def check_early(self, named: Iterable[tuple[str, nn.Parameter]], later: str) -> None:
        """Checks the groups before any data loads, given the parameters that exist by then (``named``).

        The parameters under ``later`` (the input encoder) exist only once the data is there (a text
        vocabulary sizes it): a group that may be aimed at them is checked by :meth:`members` with the whole
        model; a pattern that can match neither ``named`` nor ``later`` is refused now.
        """
        named = list(named)
        parts = {name.split(".", 1)[0] + "." for name, _ in named} | {later}
        self.members(named, prefixes=tuple(parts - {later}))
        for group in self.groups:
            literal = re.split(r"[*?\[]", group.pattern, maxsplit=1)[0]  # what every name it matches starts with
            if not any(literal.startswith(part) or part.startswith(literal) for part in parts):
                raise ConfigError(
                    f"param_groups.{group.name}.params",
                    group.pattern,
                    f"matches no parameter of this model (names start with {', '.join(sorted(parts))}); "
                    "a pattern matches whole names, fnmatch style",
                )

    def members(
        self, named: Iterable[tuple[str, nn.Parameter]], prefixes: tuple[str, ...] = ("",)
    ) -> dict[str | None, list[nn.Parameter]]:
        """Each group's parameters (``None``: the rest); raises for a group aimed at ``prefixes`` that gets none."""
        members: dict[str | None, list[nn.Parameter]] = {group.name: [] for group in self.groups} | {None: []}
        names = []
        for name, parameter in named:
            names.append(name)
            group = next((group.name for group in self.groups if fnmatchcase(name, group.pattern)), None)
            members[group].append(parameter)
        for group in self.groups:
            if not members[group.name] and group.pattern.startswith(prefixes):
                raise ConfigError(
                    f"param_groups.{group.name}.params",
                    group.pattern,
                    f"matches no parameter of this model (names look like {', '.join(names[:3])}); "
                    "a pattern matches whole names, fnmatch style",
                )
        return members


def optimizer_factory(cfg: DictConfig, groups: DictConfig) -> GroupedOptimizer:
    """The optimizer of ``cfg`` (any ``torch.optim`` class) with the ``groups``, checked before any data loads."""
    lr = cfg.get("lr")
    require(is_number(lr) and lr > 0, "optimizer.lr", lr, "the learning rate must be a positive number")
    make = instantiated(cfg, "optimizer", torch.optim.Optimizer, supplied=["params"], _partial_=True)
    try:
        defaults = make([nn.Parameter(torch.zeros(1))]).defaults
    except (TypeError, ValueError) as error:
        raise mentioned(error, cfg, "optimizer") from None
    check_decay_rates(defaults, "optimizer")
    return GroupedOptimizer(make, param_groups(groups, defaults))


DECAY_RATES = ("momentum", "betas", "rho")
"""Options that are the weight of the past in a running average (SGD's momentum, Adam's betas, Adadelta's rho), so
that 1 or more never forgets and training diverges; torch checks only that they are not negative."""


def check_decay_rates(options: dict[str, Any], group: str) -> None:
    """Refuses a momentum, beta or other running-average weight outside [0, 1) before any data loads."""
    for key in DECAY_RATES:
        value = options.get(key)
        for rate in value if isinstance(value, (list, tuple)) else [value]:
            require(
                rate is None or (is_number(rate) and 0 <= rate < 1),
                f"{group}.{key}",
                value,
                "is the weight of the past in a running average: use a number in [0, 1), e.g. 0.9",
            )


def param_groups(cfg: DictConfig, defaults: dict[str, Any]) -> tuple[ParamGroup, ...]:
    """The ``param_groups`` config as groups: each names its ``params`` pattern and only options the optimizer has."""
    require(
        isinstance(cfg, DictConfig), "param_groups", cfg, "must be a mapping of group names to {params: <pattern>, ...}"
    )
    groups = []
    for name, group in cfg.items():
        key = f"param_groups.{name}"
        require(isinstance(group, DictConfig), key, group, "must be {params: <name pattern>, <option>: <value>, ...}")
        options = OmegaConf.to_container(group, resolve=True)
        pattern = options.pop("params", None)
        require(
            isinstance(pattern, str) and pattern != "",
            f"{key}.params",
            pattern,
            "must be a parameter-name pattern, e.g. encoder.layers.0.*",
        )
        for option, value in options.items():
            known = ", ".join(sorted(defaults))
            require(option in defaults, f"{key}.{option}", value, f"is not an option of this optimizer ({known})")
            if is_number(defaults[option]):
                require(is_number(value) and value >= 0, f"{key}.{option}", value, "must be a number >= 0")
        check_decay_rates(options, key)
        groups.append(ParamGroup(str(name), pattern, options))
    return tuple(groups)
