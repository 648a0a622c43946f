"""What there is to run, read from the config files alone (no torch): modalities, models, datasets, attention scopes.

Every config file starts with a comment line describing it and gives its keys trailing comments;
a modality's ``dataset:`` comment lists its datasets (``digits (note) | mnist | ...``). Attention
scopes are declared in ``scopes.yaml`` beside the groups; :mod:`framework.nn.attention` accepts
implementations only for declared scopes, so this catalogue and the code cannot drift apart.
Each folder of :func:`~framework.core.sources.config_sources` contributes, plugins after this repository.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

from framework.core.sources import PluginError, config_sources

SCOPES_FILE = "scopes.yaml"
SCOPE_KEYS = ("module", "options", "needs_edges")
"""What ``scopes.yaml`` declares for each scope (see ``conf/scopes.yaml``)."""
NOT_OPTIONS = ("_target_", "name")
"""Keys of a config file that are not options a user sets."""

_KEY_LINE = re.compile(r"(?P<indent> *)(?P<key>[\w.-]+):(?: +(?P<value>[^#\s].*?))?(?: +# ?(?P<comment>.*))?")
_ALTERNATIVE = re.compile(r"(?P<name>\w+)(?: \((?P<note>.*)\))?")


@dataclass(frozen=True)
class Option:
    """One key of a config file: dotted ``key``, its ``default`` as written ('' for a section) and its comment."""

    key: str
    default: str
    comment: str


@dataclass(frozen=True)
class Entry:
    """A modality or model config: its name, description line, options and the plugin providing it (None: built in)."""

    name: str
    summary: str
    options: tuple[Option, ...]
    plugin: str | None


@dataclass(frozen=True)
class Dataset:
    """A dataset a modality offers (``modality.dataset=<name>``)."""

    name: str
    modality: str
    note: str
    plugin: str | None


@dataclass(frozen=True)
class Scope:
    """A declared attention scope: its description, the keyword ``options`` it receives, whether it reads
    the batch's edges, the ``module`` that registers its implementation, and the file declaring it."""

    name: str
    summary: str
    options: tuple[str, ...]
    needs_edges: bool
    module: str
    plugin: str | None
    source: Path


def read_keys(path: Path) -> tuple[Option, ...]:
    """Every key of a YAML file with its value and trailing comment, nested keys dotted (``positional.kind``)."""
    keys: list[Option] = []
    parents: list[tuple[int, str]] = []
    for line in path.read_text().splitlines():
        match = _KEY_LINE.fullmatch(line.rstrip())
        if match is None:
            continue
        indent = len(match["indent"])
        parents = [(depth, key) for depth, key in parents if depth < indent]
        dotted = ".".join([key for _, key in parents] + [match["key"]])
        keys.append(Option(dotted, match["value"] or "", match["comment"] or ""))
        parents.append((indent, match["key"]))
    return tuple(keys)


def read_summary(path: Path) -> str:
    """The file's first comment line (Hydra's ``# @package`` directives skipped)."""
    for line in path.read_text().splitlines():
        if line.startswith("#") and not line.startswith("# @"):
            return line.lstrip("# ").strip()
    return ""


def is_option(option: Option) -> bool:
    """Whether a user sets this key: not the class or name, nor a copy of the global setting of that name.

    Such a copy reads ``seed: ${seed}``.
    """
    return option.key not in NOT_OPTIONS and option.default != f"${{{option.key}}}"


def entries(group: str) -> tuple[Entry, ...]:
    """The configs of ``group`` (``modality`` or ``model``): this repository's, then each plugin's, by name."""
    return tuple(
        Entry(path.stem, read_summary(path), tuple(filter(is_option, read_keys(path))), source.plugin)
        for source in config_sources()
        for path in sorted((source.folder / group).glob("*.yaml"))
    )


def classes(group: str) -> dict[str, str]:
    """The class each config of ``group`` builds (its ``_target_``), by the config's name (``attn``)."""
    return {
        path.stem: option.default
        for source in config_sources()
        for path in sorted((source.folder / group).glob("*.yaml"))
        for option in read_keys(path)
        if option.key == "_target_"
    }


def datasets() -> tuple[Dataset, ...]:
    """The datasets each modality offers, from its ``dataset:`` comment.

    The comment lists them as ``name (note) | name | ...``; a note belongs to its name and to the
    names without a note just before it (``cora | citeseer | pubmed (Planetoid)`` notes all three).
    A comment that is no such list describes the one dataset the modality's ``dataset`` value names.
    """
    found: list[Dataset] = []
    for modality in entries("modality"):
        for option in modality.options:
            if option.key != "dataset":
                continue
            alternatives = [_ALTERNATIVE.fullmatch(part.strip()) for part in option.comment.split("|")]
            if all(alternatives):
                notes = shared_notes([m["note"] or "" for m in alternatives])
                found += [
                    Dataset(m["name"], modality.name, note, modality.plugin) for m, note in zip(alternatives, notes)
                ]
            else:
                found.append(Dataset(option.default, modality.name, option.comment, modality.plugin))
    return tuple(found)


def shared_notes(notes: list[str]) -> list[str]:
    """Each name's note, a name without one taking the next note in the list.

    ``["", "", "x", ""]`` → ``["x", "x", "x", ""]``.
    """
    shared, following = [], ""
    for note in reversed(notes):
        following = note or following
        shared.append(following)
    return shared[::-1]


@functools.cache
def scopes() -> Mapping[str, Scope]:
    """Every declared attention scope by name; :class:`PluginError` for a scope declared twice or incompletely."""
    declared: dict[str, Scope] = {}
    for source in config_sources():
        path = source.folder / SCOPES_FILE
        if not path.is_file():
            continue
        summaries = {option.key: option.comment for option in read_keys(path)}
        for name, fields in (yaml.safe_load(path.read_text()) or {}).items():
            if name in declared:
                raise PluginError(
                    f"attention scope '{name}' in {path} is already declared in {declared[name].source}; rename it"
                )
            if not isinstance(fields, dict) or set(fields) != set(SCOPE_KEYS):
                raise PluginError(f"attention scope '{name}' in {path} must declare exactly {', '.join(SCOPE_KEYS)}")
            declared[name] = Scope(
                name,
                summaries.get(name, ""),
                tuple(fields["options"]),
                bool(fields["needs_edges"]),
                fields["module"],
                source.plugin,
                path,
            )
    return MappingProxyType(declared)
