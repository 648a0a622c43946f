"""The lecture's claims as studies: each module reads a study's report rows and says whether they support its claim.

A study is a preset (``conf/experiment/claims/<name>.yaml``) that sweeps named arms
(``conf/arm/<name>/*.yaml``) over seeds, plus one module here whose ``verdict(rows)`` the report
calls (the preset names it in ``study.verdict``). A verdict splits the claim into comparisons of
two arms, each with the margin the claim allows, and lets :func:`framework.verdict_from` judge them
(Welch intervals, Bonferroni-corrected); checks that need no statistics join as :class:`framework.Check`.
"""

from __future__ import annotations

from framework import Row, Verdict, mean_sd


def arms(rows: list[Row], name: str) -> list[Row]:
    """Every row of arm ``name`` (the ``+arm=<study>/<name>`` override): one per other swept value."""
    return [row for row in rows if f"arm={row.study}/{name}" in row.variant.split()]


def arm(rows: list[Row], name: str, **swept: str) -> Row | None:
    """The row of arm ``name`` with the ``swept`` values (``{"modality.distance": "4"}``), if it finished."""
    return next((row for row in arms(rows, name) if all(row.swept(k) == v for k, v in swept.items())), None)


def arm_name(row: Row) -> str:
    """The arm a row ran (``gcn`` for ``arm=s5_graph/gcn``), or its model when it ran outside an arm."""
    return next((part.rsplit("/", 1)[-1] for part in row.variant.split() if part.startswith("arm=")), row.model)


def scores(row: Row, metric: str = "acc") -> list[float]:
    """A test metric over the row's seeds, in seed order."""
    return row.values("test", metric)


def paired(a: Row, b: Row, metric: str = "acc") -> list[float]:
    """``a − b`` seed by seed (the seeds both finished): same seed, same data subset and initial draw."""
    left = {run.results["seed"]: run.results["test"].get(metric) for run in a.runs}
    right = {run.results["seed"]: run.results["test"].get(metric) for run in b.runs}
    common = sorted(seed for seed in left.keys() & right.keys() if left[seed] is not None and right[seed] is not None)
    return [left[seed] - right[seed] for seed in common]


def describe(row: Row, metric: str = "acc") -> str:
    """``0.797 ± 0.013`` (mean ± sd over seeds) for the report's sentences."""
    mean, sd = mean_sd(scores(row, metric))
    return "–" if mean is None else f"{mean:.3f} ± {sd or 0.0:.3f}"


def missing(rows: list[Row], names: list[str]) -> Verdict | None:
    """An inconclusive verdict naming the arms that have no finished run, or None when all are there."""
    absent = [name for name in names if arm(rows, name) is None]
    return Verdict.missing(absent) if absent else None
