"""The end of a sweep: what finished, what was reused and what failed, and the report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from framework.analysis.report import write_report
from framework.analysis.rows import collect_runs
from framework.analysis.wandb import upload_report

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """Hydra callback: when a multirun ends, says what finished, what was reused and what failed, and writes the report.

    The process exits with status 1 if any job failed, after every other job has run.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        runs = collect_runs(sweep_dir)
        failed = [run for run in runs.runs if run.results.get("status") == "failed"]
        reused = [run for run in runs.runs if run.results.get("reused_from")]
        log.info(
            "sweep finished: %d jobs ran, %d reused, %d failed (%s)",
            len(runs.runs) - len(failed) - len(reused),
            len(reused),
            len(failed),
            sweep_dir,
        )
        for run in failed:
            log.error("failed: %s: %s", run.folder.relative_to(sweep_dir), run.results["error"])
        if config.sweep.report and len(runs.runs) > len(failed):
            log.info("report: %s", write_report(runs, sweep_dir))
            logger = config.get("logger")
            if logger is not None and logger._target_.endswith("WandbLogger"):
                upload_report(sweep_dir, logger.project, name=f"report-{sweep_dir.name}", entity=logger.entity)
        if failed:
            raise SystemExit(1)
