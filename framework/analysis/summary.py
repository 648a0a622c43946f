"""The end of a sweep: what finished, what was reused and what failed, and the report."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from framework.analysis.report import write_report
from framework.analysis.rows import Run, collect_runs
from framework.analysis.wandb import upload_report
from framework.runs.results import RESULTS_FILE

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """Hydra callback: when a multirun ends, says what each job did and writes the report.

    Each job is counted by what it did in this command: trained from the start, resumed from
    its resume point, reused (its config had already finished, in this sweep or another), or
    failed. A job whose ``results.json`` is the one it held when the sweep started did nothing
    new: its finished result was reused. The process exits with status 1 if any job failed,
    after every other job has run.
    """

    def __init__(self) -> None:
        self.before: dict[Path, int] = {}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.before = results_stamps(Path(config.hydra.sweep.dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        runs = collect_runs(sweep_dir)
        now = results_stamps(sweep_dir)
        done = Counter(what_it_did(run, self.before.get(run.folder) == now.get(run.folder)) for run in runs.runs)
        log.info(
            "sweep finished: %d jobs: %d trained, %d resumed, %d reused, %d failed (%s)",
            len(runs.runs),
            done["trained"],
            done["resumed"],
            done["reused"],
            done["failed"],
            sweep_dir,
        )
        failed = [run for run in runs.runs if run.results.get("status") != "ok"]
        for run in failed:
            log.error("failed: %s: %s", run.folder.relative_to(sweep_dir), run.results.get("error"))
        if config.sweep.report and len(runs.runs) > len(failed):
            log.info("report: %s", write_report(runs, sweep_dir))
            logger = config.get("logger")
            if logger is not None and logger._target_.endswith("WandbLogger"):
                upload_report(sweep_dir, logger.project, name=f"report-{sweep_dir.name}", entity=logger.entity)
        if failed:
            raise SystemExit(1)


def results_stamps(sweep_dir: Path) -> dict[Path, int]:
    """Each job folder under ``sweep_dir`` with the modification time (ns) of its ``results.json``."""
    return {path.parent: path.stat().st_mtime_ns for path in sweep_dir.glob(f"*/{RESULTS_FILE}")}


def what_it_did(run: Run, unchanged: bool) -> str:
    """``trained``, ``resumed``, ``reused`` or ``failed``: what ``run``'s job did in this command.

    ``unchanged``: its ``results.json`` is the one its folder held when the sweep started.
    """
    if run.results.get("status") != "ok":
        return "failed"
    if unchanged or run.results.get("reused_from"):
        return "reused"
    return "resumed" if run.results.get("resumed") else "trained"
