"""Which run this is: its variant, the hash of its resolved config, the code it ran, its study.

Every ``results.json`` starts with :func:`run_identity`; the config hash is what the
finished-config index (:mod:`framework.runs.index`) and checkpoints (:mod:`framework.train.resume`)
recognise a run by. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from framework.runs.results import Results

PACKAGE = "attention-arena"
UNHASHED_KEYS = ("mode", "ckpt_path", "split", "tags", "print_config", "resume_every_s", "keep_freed_memory")
"""Top-level keys that never change what is trained: what to do with a model (train it, test it, predict with it),
how a run is labelled and shown, how often it saves its resume point and how its process keeps memory. No identity
includes them: a test of a run has the run's config hash, and configs from before a key existed keep theirs."""
NOT_VARIANT = (
    "modality",
    "model",
    "seed",
    "modality.dataset",
    "experiment",
    "study",
    "hydra.",
    "sweep.",
    "logger",
    "callbacks.",
    "data_dir",
    "cache_dir",
    "output_dir",
    "trainer.accelerator",
    "trainer.devices",
    *UNHASHED_KEYS,
)
"""Override keys (or prefixes, ending in a dot) that say where or how a run ran, not which variant it was."""


def variant_of(overrides: Iterable[str]) -> str:
    """The overrides making a run a variant (``model.layers=2``), sorted and joined by spaces; ``default`` if none."""

    def is_variant(override: str) -> bool:
        key = override.lstrip("+~").split("=", 1)[0]
        return not any(key.startswith(prefix) if prefix.endswith(".") else key == prefix for prefix in NOT_VARIANT)

    return " ".join(sorted(o.lstrip("+~") for o in overrides if is_variant(o))) or "default"


def resolved_without(cfg: DictConfig, ignore: Iterable[str]) -> dict[str, Any]:
    """The resolved config as plain values, without :data:`UNHASHED_KEYS` and with each key in ``ignore`` replaced
    by a fixed placeholder.

    Keys are replaced before resolving, so values built from them (``${output_dir}/checkpoints``)
    come out the same in every run folder.
    """
    blank = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    with open_dict(blank):
        for key in UNHASHED_KEYS:
            blank.pop(key, None)
        for key in ignore:
            OmegaConf.update(blank, key, f"<{key}>", merge=False)
    return OmegaConf.to_container(blank, resolve=True)


def config_hash(cfg: DictConfig, ignore: Iterable[str]) -> str:
    """A short hash of the resolved config without the keys in ``ignore`` (see :func:`resolved_without`)."""
    payload = json.dumps(resolved_without(cfg, ignore), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@cache
def code_version() -> str:
    """The installed package version plus the git commit (``-dirty`` with local changes), when there is one."""
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():  # an installed wheel: its folder's git history, if any, is someone else's
        return version
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return version
    commit = described.stdout.strip()
    return f"{version}+{commit}" if described.returncode == 0 and commit else version


def run_identity(cfg: DictConfig, overrides: Iterable[str]) -> Results:
    """What every ``results.json`` holds, finished or failed: which run this was and from which code."""
    overrides = list(overrides)
    return {
        "modality": cfg.modality.name,
        "dataset": cfg.modality.get("dataset"),
        "model": cfg.model.name,
        "seed": cfg.seed,
        **study_identity(cfg.get("study")),
        "config_hash": config_hash(cfg, cfg.sweep.hash_ignores),
        "code_version": code_version(),
        "variant": variant_of(overrides),
        "overrides": overrides,
    }


def study_identity(study: DictConfig | None) -> dict[str, Any]:
    """The study a run belongs to (``None`` outside one), with what the report needs to judge it."""
    if study is None:
        return {"study": None}
    info = {"claim": study.get("claim"), "verdict": study.get("verdict"), "size": study.get("size")}
    return {"study": study.get("name"), "study_info": info}


def checkpoint_identity(cfg: DictConfig, ignore: Iterable[str]) -> dict[str, Any]:
    """What a checkpoint must match to be continued: modality, model, and every config value but ``ignore``.

    The ignored keys (where files go, how a run is watched) never change what is trained.
    """
    return {"modality": cfg.modality.name, "model": cfg.model.name, "settings": flatten(resolved_without(cfg, ignore))}


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"dim": 32}}`` → ``{"model.dim": 32}``; lists stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat
