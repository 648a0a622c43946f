"""Attention Arena's public API: everything a modality, model, attention-scope or study plugin needs.

Plugins import from here only (``from framework import Modality, VectorSet, require``), so the
layers behind it (``core``, ``io``, ``nn``, ``viz``, ``analysis``; see ``docs/architecture.md``)
can change without breaking them. Each name loads on first use, so ``import framework`` costs
nothing and ``run.py --list`` never imports torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, tuple[str, ...]] = {
    # The contract: what a batch is, what a modality offers and a model needs.
    "framework.core.batch": ("IGNORE_INDEX", "VectorSet"),
    "framework.core.spec": ("Layout", "ModalitySpec", "ModelRequirement", "Target"),
    "framework.core.modality": ("AttentionRows", "Modality"),
    "framework.core.encoder": ("Encoder",),
    "framework.core.sequences": ("SequenceSets",),
    "framework.core.errors": ("ArenaError", "ConfigError", "DataError", "IncompatibleError", "one_of", "require"),
    "framework.core.sizes": ("divisors", "listed", "physical_memory", "require_fits"),
    # Tensor code a model or modality builds on.
    "framework.nn.attention": ("MultiHeadSelfAttention", "attend", "register_scope", "scope_needs_edges"),
    "framework.nn.edges": ("GRID_NEIGHBOURHOODS", "band_edges", "grid_edges", "normalize_edges"),
    "framework.nn.embedding": ("StandardizedProjection",),
    "framework.nn.mlp": ("hidden_layers",),
    # Checking a plugin's own nested options the way the runner checks the config.
    "framework.config.checks": ("check_options",),
    # Getting data: verified downloads and caches keyed by their inputs.
    "framework.io.download": ("REFETCH", "check_link", "extract", "fetch", "require_verified", "scratch_folder"),
    "framework.io.cache": ("Stale", "cached"),
    "framework.io.data_pickle": ("unpickle_data",),
    "framework.io.file_kind": ("not_a_file",),
    # Pictures of attention, drawn by each modality.
    "framework.viz.figures": ("new_figure",),
    "framework.viz.attention_maps": ("matrix_figure",),
    # What a study's verdict reads.
    "framework.analysis.rows": ("Row", "mean_sd"),
    "framework.analysis.stats": ("Outcome",),
    "framework.analysis.verdict": ("Check", "Comparison", "Verdict", "verdict_from"),
    # A finished run's model, modality and config, for a notebook.
    "framework.train.evaluate": ("load_run",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)

if TYPE_CHECKING:  # the same names, visible to type checkers and editors
    from framework.analysis.rows import Row, mean_sd
    from framework.analysis.stats import Outcome
    from framework.analysis.verdict import Check, Comparison, Verdict, verdict_from
    from framework.config.checks import check_options
    from framework.core.batch import IGNORE_INDEX, VectorSet
    from framework.core.encoder import Encoder
    from framework.core.errors import ArenaError, ConfigError, DataError, IncompatibleError, one_of, require
    from framework.core.modality import AttentionRows, Modality
    from framework.core.sequences import SequenceSets
    from framework.core.sizes import divisors, listed, physical_memory, require_fits
    from framework.core.spec import Layout, ModalitySpec, ModelRequirement, Target
    from framework.io.cache import Stale, cached
    from framework.io.data_pickle import unpickle_data
    from framework.io.download import REFETCH, check_link, extract, fetch, require_verified, scratch_folder
    from framework.io.file_kind import not_a_file
    from framework.nn.attention import MultiHeadSelfAttention, attend, register_scope, scope_needs_edges
    from framework.nn.edges import GRID_NEIGHBOURHOODS, band_edges, grid_edges, normalize_edges
    from framework.nn.embedding import StandardizedProjection
    from framework.nn.mlp import hidden_layers
    from framework.train.evaluate import load_run
    from framework.viz.attention_maps import matrix_figure
    from framework.viz.figures import new_figure


def __getattr__(name: str) -> Any:
    """Loads a public name from the module that defines it, the first time it is asked for."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'framework' has no attribute '{name}'")
    value = getattr(import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
