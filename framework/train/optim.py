"""The optimizer of a run: the configured class and options, with its own options for named groups of parameters.

A group is chosen by a pattern over parameter names (``encoder.layers.0.*``), as the GCN paper's
weight decay on the first layer only needs; parameters no group names keep the optimizer's options.
"""

from __future__ import annotations

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

    def check_early(self, named: Iterable[tuple[str, nn.Parameter]]) -> None:
        """Checks the groups aimed at ``encoder.*``, ``positional.*`` and ``head.*`` before any data loads.

        The input encoder exists only once the data is there (a text vocabulary sizes it), so its
        groups are checked when the optimizer is built.
        """
        self.members(named, prefixes=("encoder.", "positional.", "head."))

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
    return GroupedOptimizer(make, param_groups(groups, defaults))


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
        groups.append(ParamGroup(str(name), pattern, options))
    return tuple(groups)
