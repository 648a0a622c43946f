"""The runs under a folder, grouped into report rows: one row per (study, modality, dataset, model, variant).

A row holds the successful seeds of one comparison cell; the report, its plots and the studies'
verdicts all read results through it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.core.errors import ArenaError
from framework.runs.identity import variant_of
from framework.runs.results import RESULTS_FILE, Results, read_results
from framework.runs.selection import SELECT_STAGE


class ReportError(ArenaError):
    """A folder that holds no run to report."""


@dataclass(frozen=True)
class Run:
    """One job's folder and its parsed ``results.json``."""

    folder: Path
    results: Results

    @property
    def ok(self) -> bool:
        return self.results["status"] == "ok"

    @property
    def variant(self) -> str:
        """The overrides that make this run a variant, as ``key=value`` joined by spaces (``default`` if none)."""
        return self.results.get("variant") or variant_of(self.results.get("overrides", []))


@dataclass
class Runs:
    """Everything found under a folder: the runs, and the files that could not be read."""

    root: Path
    runs: list[Run]
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def code_versions(self) -> set[str]:
        return {run.results.get("code_version", "unknown") for run in self.runs}


@dataclass
class Row:
    """One comparison cell: the successful seeds of one (study, modality, dataset, model, variant)."""

    study: str | None
    modality: str
    dataset: str | None
    model: str
    variant: str
    runs: list[Run]

    def values(self, *path: str) -> list[float]:
        """The numbers at ``path`` (e.g. ``("test", "acc")``) over the seeds, skipping runs without one."""
        found = []
        for run in self.runs:
            value: Any = run.results
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, (int, float)) and not math.isnan(value):
                found.append(float(value))
        return found

    @property
    def selecting(self) -> bool:
        """Whether these are a study's model-selection runs (scored on validation only), not its results."""
        return SELECT_STAGE in self.variant.split()

    def swept(self, key: str) -> str | None:
        """The value of override ``key`` in this row's variant (``modality.train_fraction`` → ``"0.1"``), if swept."""
        return next((part.split("=", 1)[1] for part in self.variant.split() if part.startswith(f"{key}=")), None)

    def first_check(self, name: str) -> Any:
        """What check ``name`` recorded (``results.json`` → ``checks``) on the first seed that has it, or None."""
        return next(
            (run.results["checks"][name] for run in self.runs if (run.results.get("checks") or {}).get(name)), None
        )

    @property
    def seeds(self) -> list[int]:
        return sorted(run.results["seed"] for run in self.runs)

    @property
    def test_metrics(self) -> list[str]:
        return sorted(
            {key for run in self.runs for key in run.results.get("test", {}) if key != "loss"},
            key=lambda key: (key != "acc", key),
        )


def collect_runs(root: Path) -> Runs:
    """Every ``results.json`` under ``root``; hidden folders (the finished-config index) and W&B's ``wandb`` folders
    (where each run's copy of its ``results.json`` is a W&B run file) are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{root} is not a folder; give the folder of a multirun (e.g. multirun/<date>/<time>)")
    runs, unreadable = [], []
    for path in sorted(root.rglob(RESULTS_FILE)):
        if any(part.startswith(".") or part == "wandb" for part in path.relative_to(root).parts[:-1]):
            continue
        try:
            runs.append(Run(path.parent, read_results(path)))
        except ValueError as error:
            unreadable.append((path, str(error)))
    return Runs(root, runs, unreadable)


def aggregate(runs: Iterable[Run]) -> list[Row]:
    """Groups successful runs into rows, in a stable order (study, modality, dataset, model, variant)."""
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs:
        if run.ok:
            r = run.results
            groups[(r.get("study"), r["modality"], r.get("dataset"), r["model"], run.variant)].append(run)
    return [Row(*key, members) for key, members in sorted(groups.items(), key=lambda item: tuple(map(str, item[0])))]


def mean_sd(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (``None`` where undefined: no values, or one value for the sd)."""
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None
