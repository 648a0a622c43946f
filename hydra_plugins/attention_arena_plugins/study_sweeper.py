"""Hydra's basic sweeper plus the studies' fair protocol: equal-effort selection on validation, then the seeds.

A sweep whose arms declare no ``study.search`` runs exactly as with Hydra's basic sweeper, after
every job's folder is checked (:func:`~framework.runs.places.check_run`, distinct folders inside
the sweep's): a refused sweep starts no job and writes nothing. It stands in for Hydra's ``basic``.
When they do, each arm first tries ``study.selection.trials`` configurations of its grid on
the selection seed (runs marked ``study.stage=select``), and then runs the configuration with
the best validation score over the swept seeds (see :mod:`framework.runs.selection`).
"""

# No ``from __future__ import annotations``: Hydra loads this module outside sys.modules while it
# scans for plugins, and a dataclass with string annotations then cannot resolve them.
import logging
import math
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf, open_dict

from framework.core.errors import ArenaError, ConfigError
from framework.runs.lock import LOCK_FILE
from framework.runs.places import check_path_names, check_run
from framework.runs.selection import Group, choose, draw, final_jobs, groups_of, search_grid, selection_jobs

log = logging.getLogger(__name__)


@dataclass
class StudySweeperConf:
    """The study sweeper's options: those of Hydra's basic sweeper."""

    _target_: str = "hydra_plugins.attention_arena_plugins.study_sweeper.StudySweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


ConfigStore.instance().store(group="hydra/sweeper", name="study", node=StudySweeperConf, provider="attention-arena")
# It also stands in for Hydra's basic sweeper, the default: every sweep's jobs are checked before the first starts.
ConfigStore.instance().store(group="hydra/sweeper", name="basic", node=StudySweeperConf, provider="attention-arena")


class StudySweeper(BasicSweeper):
    """Runs a sweep; for a study whose arms declare ``study.search``, selects each arm's configuration first."""

    def sweep(self, arguments: list[str]) -> Any:
        assert self.hydra_context is not None and self.config is not None and self.launcher is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        (jobs,) = self.split_arguments(parser.parse_overrides([*self._parse_config(), *arguments]), None)
        try:
            plans = self.plans(jobs, parser)
            if plans is None:
                self.check_jobs(jobs, first=0)
        except ArenaError as error:  # a bad search or selection setting, a bad job folder: one line, before any job
            self.refuse(error)
        if plans is None:
            return super().sweep(arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        selection = [job for group, (tried, seed) in plans.items() for job in selection_jobs(group, tried, seed)]
        scores = iter(self.launch(selection))
        chosen = {group: choose(tried, [next(scores) for _ in tried]) for group, (tried, _) in plans.items()}
        final = []
        for group, configuration in chosen.items():
            if configuration is None:
                log.error("every selection run of %s failed; its seeds are not run", " ".join(group.overrides))
                continue
            log.info("selected for %s: %s", " ".join(group.overrides), " ".join(configuration) or "(defaults)")
            final += final_jobs(group, configuration)
        return [self.launch(final, first=len(selection))]

    def plans(
        self, jobs: list[list[str]], parser: OverridesParser
    ) -> dict[Group, tuple[list[tuple[str, ...]], int]] | None:
        """Each group's configurations to try and their seed; None when no arm declares a search."""
        plans = {group: self.search_of(group, parser) for group in groups_of(jobs)}
        if all(plan is None for plan in plans.values()):
            return None
        if absent := [group for group, plan in plans.items() if plan is None]:
            raise ConfigError(
                "study.search",
                None,
                f"{' '.join(absent[0].overrides)} declares none while other arms do; "
                "every arm of a study must try the same number of configurations",
            )
        return plans

    def search_of(self, group: Group, parser: OverridesParser) -> tuple[list[tuple[str, ...]], int] | None:
        """The configurations ``group`` tries (its arm's ``study.search``, drawn to ``trials``) and their seed.

        None when its arm declares no search.
        """
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(group.jobs[0]))
        study = cfg.get("study") or DictConfig({})
        search, selection = study.get("search"), study.get("selection")
        if not search or selection is None or not selection.get("trials"):
            return None
        grid = search_grid(search)
        (candidates,) = self.split_arguments(parser.parse_overrides([f"{k}={v}" for k, v in grid.items()]), None)
        arm = next((o for o in group.overrides if o.lstrip("+").startswith("arm=")), " ".join(group.overrides))
        seed = int(selection.seed)
        return draw([tuple(candidate) for candidate in candidates], int(selection.trials), seed, arm), seed

    def refuse(self, error: ArenaError) -> NoReturn:
        """Stops the sweep with one line and exit status 2, removing its folder if it holds nothing but the lock."""
        print(f"error: {error}", file=sys.stderr)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        if sweep_dir.is_dir() and {path.name for path in sweep_dir.iterdir()} <= {LOCK_FILE}:
            shutil.rmtree(sweep_dir)
        raise SystemExit(2)

    def check_jobs(self, jobs: Sequence[Sequence[str]], first: int) -> None:
        """Checks where each of ``jobs`` (numbered from ``first``) writes, before any of them starts.

        Raises:
            ArenaError: a name that would lead out of its folder, a job folder outside the sweep's,
                two jobs in one folder, a folder inside the data, or one holding another config's finished run.
        """
        sweep_dir = Path(os.path.normpath(os.path.abspath(self.config.hydra.sweep.dir)))
        numbers: dict[Path, int] = {}
        for number, job in enumerate(jobs, start=first):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(job))
            with open_dict(cfg):  # as the launcher numbers it
                cfg.hydra.job.id = cfg.hydra.job.num = number
            check_path_names(cfg)
            subdir = str(cfg.hydra.sweep.subdir)
            folder = Path(os.path.normpath(sweep_dir / subdir))
            if folder == sweep_dir or not folder.is_relative_to(sweep_dir):
                raise ConfigError("hydra.sweep.subdir", subdir, f"must name a folder inside {sweep_dir}")
            if folder in numbers:
                raise ConfigError(
                    "hydra.sweep.subdir",
                    OmegaConf.to_container(self.config.hydra.sweep, resolve=False)["subdir"],
                    f"jobs {numbers[folder]} and {number} would both write into {folder}; name every job apart, "
                    "e.g. with ${hydra.job.num}",
                )
            numbers[folder] = number
            check_run(cfg, folder, "hydra.sweep.dir")

    def launch(self, jobs: Sequence[Sequence[str]], first: int = 0) -> list[float]:
        """Runs ``jobs`` (in batches of ``max_batch_size``), numbered from ``first``; their scores, NaN if failed."""
        try:
            self.check_jobs(jobs, first)
        except ArenaError as error:
            self.refuse(error)
        scores = []
        size = self.max_batch_size or max(len(jobs), 1)
        for start in range(0, len(jobs), size):
            batch = [list(job) for job in jobs[start : start + size]]
            self.validate_batch_is_legal(batch)
            scores += [score(r) for r in self.launcher.launch(batch, initial_job_idx=first + start)]
        return scores


def score(result: JobReturn) -> float:
    """A job's validation score; NaN when it failed or returned none."""
    if result.status is not JobStatus.COMPLETED or not isinstance(result.return_value, (int, float)):
        return math.nan
    return float(result.return_value)
