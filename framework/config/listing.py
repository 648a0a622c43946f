"""``python run.py --list`` and ``--help``: what there is to run, read from the config files alone; imports no torch."""

from __future__ import annotations

from collections.abc import Iterable

from framework.core.catalogue import Entry, Scope, datasets, entries, scopes
from framework.core.sources import config_sources

INTERNAL_GROUPS = ("arm", "task", "hydra")
"""Config groups that presets select, not users: a study's arms, Hydra's own settings."""
WIDTH = 24
"""Width of a table's first column; longer entries push their second column right."""


def origin(plugin: str | None) -> str:
    """The mark of something a plugin provides (nothing for this repository's own)."""
    return "" if plugin is None else f"  [plugin: {plugin}]"


def table(rows: Iterable[tuple[str, str]], indent: str) -> list[str]:
    """Two columns, the second aligned unless the first is wider than :data:`WIDTH`."""
    return [f"{indent}{left:<{WIDTH}}  {right}".rstrip() for left, right in rows]


def scope_note(scope: Scope) -> str:
    """A scope's description with the options it receives and whether it needs edges."""
    receives = f"; receives model.{', model.'.join(scope.options)}" if scope.options else ""
    edges = "; needs edges" if scope.needs_edges else ""
    return scope.summary + receives + edges + origin(scope.plugin)


def configs(title: str, group: str, found: tuple[Entry, ...]) -> list[str]:
    """A group's configs, each with its description and its options (``key=default  comment``)."""
    lines = [f"{title} ({group}=<name>; {group}.<option>=<value>)"]
    for entry in found:
        lines.append(f"  {entry.name}: {entry.summary}{origin(entry.plugin)}")
        lines += table(
            ((f"{o.key}={o.default}" if o.default else f"{o.key}:", o.comment) for o in entry.options), "      "
        )
    return lines


def listing() -> str:
    """The whole ``--list`` text."""
    lines = configs("Modalities", "modality", entries("modality"))
    lines += ["", *configs("Models", "model", entries("model"))]
    lines += ["", "Datasets (modality=<modality> modality.dataset=<name>)"]
    lines += table(((f"{d.name} ({d.modality})", d.note + origin(d.plugin)) for d in datasets()), "  ")
    lines += ["", "Attention scopes (model.scope=<name>; each modality's attention_scope is its default)"]
    lines += table(((scope.name, scope_note(scope)) for scope in scopes().values()), "  ")
    return "\n".join(lines)


def config_groups() -> str:
    """The config groups a user chooses from (``group: option, ...``), this repository's and every plugin's.

    ``--help`` shows this in place of Hydra's list, which would include :data:`INTERNAL_GROUPS`.
    """
    groups: dict[str, set[str]] = {}
    for source in config_sources():
        for path in source.folder.rglob("*.yaml"):
            group = path.parent.relative_to(source.folder).as_posix()
            if group != "." and group.split("/")[0] not in INTERNAL_GROUPS:
                groups.setdefault(group, set()).add(path.stem)
    return "\n".join(f"{group}: {', '.join(sorted(options))}" for group, options in sorted(groups.items()))
