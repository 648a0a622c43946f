"""A run's resolved config as a tree, printed when the run starts (``print_config``)."""

from __future__ import annotations

from omegaconf import DictConfig, ListConfig, OmegaConf
from rich.syntax import Syntax
from rich.tree import Tree


def config_tree(cfg: DictConfig) -> Tree:
    """One branch per top-level key, in config order: a group's settings as YAML, a value as ``key: value``.

    Interpolations are resolved, so the tree shows what the run uses.
    """
    tree = Tree("config", guide_style="dim")
    for key, value in cfg.items():
        if isinstance(value, DictConfig | ListConfig):
            tree.add(str(key)).add(Syntax(OmegaConf.to_yaml(value, resolve=True).rstrip(), "yaml"))
        else:
            tree.add(f"{key}: {value}")
    return tree
