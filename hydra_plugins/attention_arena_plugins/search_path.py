"""Puts the ``conf/`` folder of every installed Attention Arena plugin on Hydra's config search path."""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from framework.core.sources import CONF_DIR, config_sources


class ArenaPluginsSearchPath(SearchPathPlugin):
    """Appends each plugin's config folder after this repository's: its modalities and models become group options.

    Hydra runs every installed search-path plugin for every application, so this one acts only
    when the application composes from this repository's ``conf/``.
    """

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        """Appends ``file://<plugin package>/conf`` for each plugin (see :mod:`framework.core.sources`)."""
        if not any(is_arena_conf(element.path) for element in search_path.get_path()):
            return
        for source in config_sources():
            if source.plugin is not None:
                search_path.append(f"attention-arena-plugin-{source.plugin}", f"file://{source.folder}")


def is_arena_conf(path: str) -> bool:
    """Whether a search path element (``/a/conf``, ``file:///a/conf``, ``pkg://x``) is this repo's config folder."""
    scheme, _, folder = path.rpartition("://")
    return scheme in ("", "file") and Path(folder).resolve() == CONF_DIR
