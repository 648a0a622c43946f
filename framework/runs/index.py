"""Sweeps that survive: finished configs are found by their hash and reused instead of trained again.

Every multirun job records its config hash in the index (``sweep.index_dir``) before it trains: one
small file per hash pointing at the ``results.json`` the job will write. That file, written last and
atomically, is the one record that the job finished; the index only says where to look, so a job
killed at any moment is either finished (its results are complete) or not. A later job with the same
hash, anywhere the index knows of, copies those results into its own folder with ``reused_from``
naming the original.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from framework.runs.results import RESULTS_FILE, Results, read_results, write_json_atomic, write_results

log = logging.getLogger(__name__)


class DoneIndex:
    """Runs by config hash: one small file per hash pointing at the ``results.json`` that run writes."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def record(self, digest: str, results_path: Path) -> None:
        """Points config hash ``digest`` at ``results_path``, whether that run has finished yet or not."""
        write_json_atomic(self.folder / f"{digest}.json", {"results": str(results_path.resolve())})

    def find(self, digest: str) -> tuple[Path, Results] | None:
        """The finished run with config hash ``digest`` and its results, if its files are still there and intact."""
        try:
            path = Path(json.loads((self.folder / f"{digest}.json").read_text())["results"])
            results = read_results(path)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if results["status"] != "ok" or results.get("config_hash") != digest:
            return None
        return path, results


def reuse_finished(cfg: DictConfig, source: Path, results: Results) -> Results:
    """Copies the finished run ``results`` (from ``source``) into this job's folder and returns them."""
    if (Path(cfg.output_dir) / RESULTS_FILE).resolve() != source.resolve():
        results = Results(**{**results, "reused_from": results.get("reused_from") or str(source.parent)})
        write_results(Path(cfg.output_dir), results)
    log.info("config already finished in %s (code %s); reusing its results", source.parent, results["code_version"])
    return results
