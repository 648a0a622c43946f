"""Group overrides that Hydra answers with a traceback, refused in one line before Hydra reads the command line.

Hydra raises a plain ``ValueError`` for a config group set to something other than an option
name (``model=3``, ``logger=null``, ``trainer=false``), and deleting a group every run needs
(``~model``) fails later, inside Hydra, on the run folder's name. Both are user mistakes, so
both are one-line :class:`~framework.core.errors.ArenaError` here (``run.py`` prints them and exits
with status 2), as is an option name that does not exist. Hydra's other errors (a key that is not
in the config, a syntax error) ``run.py`` says in one line with :func:`one_line`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from framework.core.errors import ArenaError, ConfigError
from framework.core.sources import CONF_DIR, config_sources


def is_override(arg: str) -> bool:
    """Whether a command-line argument is an override (``key=value``, ``~key``) rather than a flag or a flag's value."""
    return not arg.startswith("-") and ("=" in arg or arg.startswith("~"))


@functools.cache
def groups() -> frozenset[str]:
    """The config groups of every config folder (``model``, ``experiment``): its subfolders."""
    return frozenset(path.name for source in config_sources() for path in source.folder.iterdir() if path.is_dir())


@functools.cache
def required_groups() -> frozenset[str]:
    """The groups ``config.yaml`` selects an option of by default (``modality: image``): every run has one."""
    from omegaconf import OmegaConf

    defaults = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "config.yaml")).get("defaults", [])
    return frozenset(
        group for entry in defaults if isinstance(entry, dict) for group, option in entry.items() if option is not None
    )


def options(group: str) -> str:
    """The option names of ``group`` in every config folder, for a message."""
    names = {
        path.relative_to(source.folder / group).with_suffix("").as_posix()
        for source in config_sources()
        for path in (source.folder / group).rglob("*.yaml")
    }
    return ", ".join(sorted(names))


def check_group_overrides(args: Sequence[str]) -> None:
    """Raises :class:`ConfigError` for a group set to a non-name or a required group deleted; the rest is Hydra's."""
    args = [arg for arg in args if is_override(arg)]
    if not args:  # `--help`, `--list`: Hydra's parser stays unloaded
        return
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob
    from hydra.errors import OverrideParseException

    try:
        overrides = OverridesParser.create().parse_overrides(args)
    except OverrideParseException:
        return  # Hydra prints its own one-message answer
    for override in overrides:
        group = override.key_or_group
        if "/" in group or group not in groups():
            continue
        if override.is_delete():
            if group in required_groups():
                raise ArenaError(
                    f"cannot delete the {group} group (~{group}): every run needs one; "
                    f"choose one of {options(group)} ({group}=<name>)"
                )
            continue
        value = override.value()
        if isinstance(value, Glob):  # matches option names, which are strings
            continue
        if override.is_sweep_override():  # -m model=attn,3
            value = list(override.sweep_iterator())
        for name in value if isinstance(value, list) else [value]:
            if not isinstance(name, str):
                raise ConfigError(group, name, f"a config group takes an option name: one of {options(group)}")
            if not any((source.folder / group / f"{name}.yaml").is_file() for source in config_sources()):
                raise ConfigError(group, name, f"no such option; the options are {options(group)}")


def one_line(error: Exception) -> str:
    """Hydra's own error message (a key that is not in the config, a bad override) as one line."""
    noise = ("full_key:", "object_type=", "reference_type=", "Set the environment variable HYDRA_FULL_ERROR")
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and not line.strip().startswith(noise)]
    return "; ".join(line.rstrip(".") for line in lines)
