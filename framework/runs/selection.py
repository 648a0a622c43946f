"""Equal-effort model selection: every arm of a study tries the same number of configurations, scored on validation.

The study sweeper (``hydra_plugins.attention_arena_plugins.study_sweeper``) plans a study's
sweep with these functions: the jobs that differ only in their seed form one *group* (an arm,
with any other swept value); each group draws ``trials`` configurations from its arm's
``study.search`` grid, trains each once on the selection seed and scores it on validation
(the job's return value: the best validation accuracy, never a test metric), and then runs the
best configuration over the study's seeds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from framework.core.errors import ConfigError

SELECT = "select"
"""The ``study.stage`` of a selection run."""
SELECT_STAGE = f"study.stage={SELECT}"
"""The override that marks a selection run: its row is a candidate, not one of the study's results."""


def is_selection_run(cfg: Mapping[str, Any]) -> bool:
    """Whether ``cfg`` is a study's selection run: scored on validation only, with no test and no probes."""
    return (cfg.get("study") or {}).get("stage") == SELECT


@dataclass(frozen=True)
class Group:
    """The jobs of one arm (and any other swept value) that differ only in their seed."""

    overrides: tuple[str, ...]
    jobs: tuple[tuple[str, ...], ...]


def groups_of(jobs: Sequence[Sequence[str]]) -> list[Group]:
    """The sweep's ``jobs`` (override lists) grouped by everything but ``seed=``, in first-seen order."""
    found: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for job in jobs:
        key = tuple(override for override in job if not override.startswith("seed="))
        found.setdefault(key, []).append(tuple(job))
    return [Group(key, tuple(members)) for key, members in found.items()]


def draw(candidates: Sequence[tuple[str, ...]], trials: int, seed: int, arm: str) -> list[tuple[str, ...]]:
    """``trials`` of ``candidates``, the same ones for a given ``seed``; all of them when there are exactly as many.

    Raises ``ConfigError`` when the grid has fewer than ``trials``: an arm that tries fewer
    configurations than the others gets less selection effort.
    """
    if len(candidates) < trials:
        raise ConfigError(
            "study.search",
            f"{len(candidates)} configuration(s) for {arm}",
            f"every arm must offer at least study.selection.trials={trials}; widen its search grid",
        )
    if len(candidates) == trials:
        return list(candidates)
    chosen = sorted(random.Random(seed).sample(range(len(candidates)), trials))
    return [candidates[index] for index in chosen]


def choose(tried: Sequence[tuple[str, ...]], scores: Sequence[float]) -> tuple[str, ...] | None:
    """The configuration with the best validation score (the first on ties); None when every trial failed (NaN)."""
    best = max(
        (index for index, score in enumerate(scores) if not math.isnan(score)),
        key=lambda index: scores[index],
        default=None,
    )
    return None if best is None else tried[best]


def selection_jobs(group: Group, tried: Sequence[tuple[str, ...]], seed: int) -> list[tuple[str, ...]]:
    """One job per configuration in ``tried``: the group's overrides, the configuration, the selection seed."""
    return [(*group.overrides, *configuration, f"seed={seed}", SELECT_STAGE) for configuration in tried]


def final_jobs(group: Group, chosen: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The group's seeded jobs, each with the chosen configuration."""
    return [(*job, *chosen) for job in group.jobs]


def search_grid(search: Mapping[str, object]) -> dict[str, str]:
    """An arm's ``study.search`` as sweep strings: ``{model.dim: "32,64"}`` or ``{model.dim: [32, 64]}``."""
    grid = {}
    for key, values in search.items():
        listed = list(values) if isinstance(values, Sequence) and not isinstance(values, str) else [values]
        if not listed or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in listed):
            raise ConfigError(f"study.search.{key}", values, "must be values to try, e.g. 32,64,128 or [32, 64, 128]")
        grid[str(key)] = ",".join(map(str, listed))
    return grid
