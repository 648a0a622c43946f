"""The lecture's claims as studies: each module reads a study's report rows and says whether they support its claim.

A study is a preset (``conf/experiment/claims/<name>.yaml``) that sweeps named arms
(``conf/arm/<name>/*.yaml``) over seeds, plus one module here whose ``verdict(rows)`` the report
calls (the preset names it in ``study.verdict``).
"""

from __future__ import annotations

from dataclasses import dataclass

from framework import Row, mean_sd


@dataclass(frozen=True)
class Verdict:
    """Whether a study's numbers support its claim (``None``: an arm is missing) and why, with the numbers."""

    supported: bool | None
    reason: str


def arms(rows: list[Row], name: str) -> list[Row]:
    """Every row of arm ``name`` (the ``+arm=<study>/<name>`` override): one per other swept value."""
    return [row for row in rows if f"arm={row.study}/{name}" in row.variant.split()]


def arm(rows: list[Row], name: str) -> Row | None:
    """The row of arm ``name``, if it finished (for studies that sweep nothing else)."""
    return next(iter(arms(rows, name)), None)


def arm_name(row: Row) -> str:
    """The arm a row ran (``gcn`` for ``arm=s5_graph/gcn``), or its model when it ran outside an arm."""
    return next((part.rsplit("/", 1)[-1] for part in row.variant.split() if part.startswith("arm=")), row.model)


def accuracy(row: Row, metric: str = "acc") -> tuple[float, float]:
    """Mean and sd (0 for one seed) of a test metric over the row's seeds."""
    mean, sd = mean_sd(row.values("test", metric))
    return mean if mean is not None else float("nan"), sd or 0.0


def describe(row: Row, metric: str = "acc") -> str:
    """``0.797 ± 0.013`` for the report's sentences."""
    mean, sd = accuracy(row, metric)
    return f"{mean:.3f} ± {sd:.3f}"


def missing(rows: list[Row], names: list[str]) -> Verdict | None:
    """An inconclusive verdict naming the arms that have no finished run, or None when all are there."""
    absent = [name for name in names if arm(rows, name) is None]
    return Verdict(None, f"no finished runs for {', '.join(absent)}; nothing to conclude") if absent else None
