"""``python run.py --list``: every modality, model, dataset and attention scope, with its options; imports no torch."""

from __future__ import annotations

from collections.abc import Iterable

from framework.catalogue import Entry, Scope, datasets, entries, scopes

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
        lines += table(((f"{o.key}={o.default}" if o.default else f"{o.key}:", o.comment) for o in entry.options), "      ")
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
