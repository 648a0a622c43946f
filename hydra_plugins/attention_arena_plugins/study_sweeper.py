"""Hydra's basic sweeper plus the studies' fair protocol: equal-effort selection on validation, then the seeds.

A sweep whose arms declare no ``study.search`` runs exactly as with Hydra's basic sweeper.
When they do, each arm first tries ``study.selection.trials`` configurations of its grid on
the selection seed (runs marked ``study.stage=select``), and then runs the configuration with
the best validation score over the swept seeds (see :mod:`framework.runs.selection`).
"""

# No ``from __future__ import annotations``: Hydra loads this module outside sys.modules while it
# scans for plugins, and a dataclass with string annotations then cannot resolve them.
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf

from framework.core.errors import ArenaError, ConfigError
from framework.runs.selection import Group, choose, draw, final_jobs, groups_of, search_grid, selection_jobs

log = logging.getLogger(__name__)


@dataclass
class StudySweeperConf:
    """The study sweeper's options: those of Hydra's basic sweeper."""

    _target_: str = "hydra_plugins.attention_arena_plugins.study_sweeper.StudySweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


ConfigStore.instance().store(group="hydra/sweeper", name="study", node=StudySweeperConf, provider="attention-arena")


class StudySweeper(BasicSweeper):
    """Runs a sweep; for a study whose arms declare ``study.search``, selects each arm's configuration first."""

    def sweep(self, arguments: list[str]) -> Any:
        assert self.hydra_context is not None and self.config is not None and self.launcher is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        (jobs,) = self.split_arguments(parser.parse_overrides([*self._parse_config(), *arguments]), None)
        try:
            plans = self.plans(jobs, parser)
        except ArenaError as error:  # a bad search or selection setting: one line, before any job runs
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
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

    def launch(self, jobs: Sequence[Sequence[str]], first: int = 0) -> list[float]:
        """Runs ``jobs`` (in batches of ``max_batch_size``), numbered from ``first``; their scores, NaN if failed."""
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
