"""Sweeps that survive: finished configs are found by hash and reused, failed jobs are recorded, not fatal.

Every run's ``results.json`` carries a hash of its resolved config. A multirun job whose hash
already finished (``status: ok``) anywhere the index knows of is not trained again: its results are
copied into the new job folder with ``reused_from`` naming the original. A job that raises is
written down as ``status: failed`` with its error, and the sweep goes on. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import subprocess
import traceback
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from framework.results import RESULTS_FILE, write_json_atomic

log = logging.getLogger(__name__)

PACKAGE = "attention-arena"
NOT_VARIANT = ("modality", "model", "seed", "modality.dataset", "experiment", "study", "hydra.", "sweep.", "logger",
               "callbacks.", "data_dir", "cache_dir", "output_dir", "trainer.accelerator", "trainer.devices")
"""Override keys (or prefixes, ending in a dot) that say where or how a run ran, not which variant it was."""


def variant_of(overrides: Iterable[str]) -> str:
    """The overrides that make a run a variant (``model.layers=2``), sorted and joined by spaces; ``default`` if none."""
    def is_variant(override: str) -> bool:
        key = override.lstrip("+~").split("=", 1)[0]
        return not any(key.startswith(prefix) if prefix.endswith(".") else key == prefix for prefix in NOT_VARIANT)

    return " ".join(sorted(o.lstrip("+~") for o in overrides if is_variant(o))) or "default"


def resolved_without(cfg: DictConfig, ignore: Iterable[str]) -> dict[str, Any]:
    """The resolved config as plain values, with each key in ``ignore`` replaced by a fixed placeholder.

    Keys are replaced before resolving, so values built from them (``${output_dir}/checkpoints``)
    come out the same in every run folder.
    """
    blank = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    with open_dict(blank):
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
    root = Path(__file__).resolve().parents[1]
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return version
    commit = described.stdout.strip()
    return f"{version}+{commit}" if described.returncode == 0 and commit else version


def run_identity(cfg: DictConfig, overrides: Iterable[str]) -> dict[str, Any]:
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


def record_failure(cfg: DictConfig, overrides: Iterable[str], error: BaseException, status: str = "failed") -> dict[str, Any]:
    """Writes ``results.json`` with ``status`` (``failed``, ``interrupted``) and the error (with its traceback unless it is a user error)."""
    from framework.errors import ArenaError

    expected = isinstance(error, ArenaError)
    results = {
        **run_identity(cfg, overrides),
        "status": status,
        "error": f"{type(error).__name__}: {error}",
        "traceback": None if expected else "".join(traceback.format_exception(error)),
    }
    write_json_atomic(Path(cfg.output_dir) / RESULTS_FILE, results)
    return results


class DoneIndex:
    """Finished runs by config hash: one small file per hash pointing at that run's ``results.json``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def record(self, results: dict[str, Any], results_path: Path) -> None:
        """Remembers a finished run."""
        write_json_atomic(self.folder / f"{results['config_hash']}.json", {"results": str(results_path.resolve())})

    def find(self, digest: str) -> tuple[Path, dict[str, Any]] | None:
        """The finished run with config hash ``digest`` and its results, if its files are still there and intact."""
        try:
            path = Path(json.loads((self.folder / f"{digest}.json").read_text())["results"])
            results = json.loads(path.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if results.get("status") != "ok" or results.get("config_hash") != digest:
            return None
        return path, results


def reuse_finished(cfg: DictConfig) -> dict[str, Any] | None:
    """If this config already finished, copies its results into this job's folder and returns them."""
    found = DoneIndex(cfg.sweep.index_dir).find(config_hash(cfg, cfg.sweep.hash_ignores))
    if found is None:
        return None
    source, results = found
    target = Path(cfg.output_dir) / RESULTS_FILE
    if target.resolve() != source.resolve():
        results = {**results, "reused_from": results.get("reused_from") or str(source.parent)}
        write_json_atomic(target, results)
    log.info("config already finished in %s (code %s); reusing its results", source.parent, results["code_version"])
    return results


class SweepSummary(Callback):
    """Hydra callback: when a multirun ends, says what finished, what was reused and what failed, and writes the report.

    The process exits with status 1 if any job failed, after every other job has run.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from framework.report import collect_runs, write_report

        sweep_dir = Path(config.hydra.sweep.dir)
        runs = collect_runs(sweep_dir)
        failed = [run for run in runs.runs if run.results.get("status") == "failed"]
        reused = [run for run in runs.runs if run.results.get("reused_from")]
        log.info(
            "sweep finished: %d jobs ran, %d reused, %d failed (%s)",
            len(runs.runs) - len(failed) - len(reused), len(reused), len(failed), sweep_dir,
        )
        for run in failed:
            log.error("failed: %s: %s", run.folder.relative_to(sweep_dir), run.results["error"])
        if config.sweep.report and len(runs.runs) > len(failed):
            log.info("report: %s", write_report(runs, sweep_dir))
            logger = config.get("logger")
            if logger is not None and logger._target_.endswith("WandbLogger"):
                from framework.report_wandb import upload_report

                upload_report(sweep_dir, logger.project, name=f"report-{sweep_dir.name}", entity=logger.entity)
        if failed:
            raise SystemExit(1)
