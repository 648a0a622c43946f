"""The config folders runs draw on: this repository's ``conf/`` and the ``conf/`` of each installed plugin.

A package outside this repository becomes a plugin by declaring an entry point in the group
``attention_arena.plugins`` whose value names the package; its ``conf/`` folder is laid out like
this repository's (``modality/*.yaml``, ``model/*.yaml``, ``scopes.yaml``). Plugins are found from
the installed distributions' metadata and located on disk without running any of their code, so
listing them and composing configs never imports the plugin (or torch).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.machinery import PathFinder
from importlib.metadata import EntryPoint, entry_points
from importlib.util import find_spec
from pathlib import Path

from framework.core.errors import ArenaError

ENTRY_POINT_GROUP = "attention_arena.plugins"
_SHIPPED_CONF = Path(__file__).resolve().parents[1] / "conf"  # where a built wheel puts conf/ (setup.py)
CONF_DIR = _SHIPPED_CONF if _SHIPPED_CONF.is_dir() else Path(__file__).resolve().parents[2] / "conf"
"""The config folder ``arena`` and ``run.py`` compose from: the clone's ``conf/``, or the copy a wheel installed."""


class PluginError(ArenaError):
    """An installed plugin cannot be used: its package is missing, or it declares something it may not."""


@dataclass(frozen=True)
class ConfigSource:
    """A config folder and where it comes from: ``plugin`` is the plugin's entry point name, None for this repo."""

    plugin: str | None
    folder: Path


@functools.cache
def config_sources() -> tuple[ConfigSource, ...]:
    """This repository's config folder, then each plugin's by name; raises :class:`PluginError` for a broken plugin."""
    plugins = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda entry: entry.name)
    return (ConfigSource(None, CONF_DIR), *(ConfigSource(entry.name, plugin_conf_dir(entry)) for entry in plugins))


def plugin_conf_dir(entry: EntryPoint) -> Path:
    """The ``conf/`` folder of the package an entry point names, found without importing the package."""
    declared = f"plugin '{entry.name}' (entry point '{entry.name} = {entry.value}' in group {ENTRY_POINT_GROUP})"
    folders = package_folders(entry.module)
    if folders is None:
        owner = (
            f"pip uninstall {entry.dist.name}" if entry.dist is not None else "uninstall the package that declares it"
        )
        raise PluginError(
            f"{declared} names package '{entry.module}', which is not installed; reinstall the plugin or {owner}"
        )
    for folder in folders:
        if (folder / "conf").is_dir():
            return folder / "conf"
    raise PluginError(
        f"{declared}: package '{entry.module}' has no conf/ folder; "
        "add conf/model/<name>.yaml or conf/modality/<name>.yaml to it"
    )


def package_folders(package: str) -> list[Path] | None:
    """The folders of ``package`` (a dotted name is fine), or None if it is not installed; runs none of its code."""
    top, *rest = package.split(".")
    spec = find_spec(top)
    for part in rest:
        if spec is None or spec.submodule_search_locations is None:
            return None
        spec = PathFinder.find_spec(part, list(spec.submodule_search_locations))
    if spec is None or spec.submodule_search_locations is None:
        return None
    return [Path(folder) for folder in spec.submodule_search_locations]
