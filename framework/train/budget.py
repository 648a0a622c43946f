"""Parameter budgets: the width of a model family that makes the whole model about a given size."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from framework.core.errors import ConfigError, require

KEY = "model.param_budget"
TOLERANCE = 0.1
"""A budget is met when the parameter count lies within ±10 % of it."""
LARGEST = 10**12
"""Budgets above a trillion parameters are refused: no such model fits in memory, and the search would only crawl."""
MULTIPLIERS = {"": 1, "k": 10**3, "m": 10**6}
BUDGET = re.compile(r"(\d+(?:\.\d*)?)([km]?)", re.IGNORECASE)


def parse_budget(value: object) -> int | None:
    """``null`` → ``None`` (no budget); ``250000``, ``"100k"``, ``"1.5M"`` → a positive parameter count."""
    if value is None:
        return None
    match = None if isinstance(value, bool) else BUDGET.fullmatch(str(value).strip())
    count = round(float(match[1]) * MULTIPLIERS[match[2].lower()]) if match else 0
    require(
        0 < count <= LARGEST,
        KEY,
        value,
        "use a positive parameter count up to 1,000,000M, such as 250000, 100k or 1.5M, "
        "or null for the configured width",
    )
    return count


def count_parameters(module: nn.Module) -> int:
    """Trainable and frozen parameters of ``module`` (buffers such as normalisation statistics excluded)."""
    return sum(p.numel() for p in module.parameters())


@dataclass(frozen=True)
class BudgetFit:
    """The width chosen for a budget and the exact parameter count of the model it gives."""

    budget: int
    width: int
    params: int


def fit_width(
    budget: int, build: Callable[[int], nn.Module], configured: int, width_key: str, family: str
) -> BudgetFit:
    """The width whose whole model (``build(width)``) has the parameter count closest to ``budget``.

    The model's own checks decide which widths exist: the smallest width that builds (at most
    ``configured``, the one in the config, which is known to build) is the step, and the search
    brackets the budget from the configured width and bisects over the step's multiples, as
    divisibility rules such as ``heads | dim`` require. Counts must grow with the width.
    Candidates are built on the meta device: shapes only, so no memory is allocated and no
    random numbers are drawn.

    Raises:
        ConfigError: the closest count is not within ±10 % of ``budget``; when the budget is below
            the smallest model of the family (``family``, e.g. ``attn model on image``), the message
            names that smallest count.
    """

    @cache
    def count(width: int) -> int:
        with torch.device("meta"):
            return count_parameters(build(width))

    step = next((width for width in range(1, configured) if _builds(count, width)), configured)
    # Bracket the budget between multiples of step, count(low * step) < budget <= count(high * step),
    # starting from the configured width (building a candidate may read the data, so few builds pay).
    high = configured // step
    while count(high * step) < budget:
        high *= 2
    low = high // 2
    while low > 0 and count(low * step) >= budget:
        low, high = low // 2, low
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if count(middle * step) >= budget else (middle, high)
    width = min((k * step for k in (low, high) if k > 0), key=lambda w: abs(count(w) - budget))
    params = count(width)
    if abs(params - budget) > TOLERANCE * budget:
        smallest = count(step)
        if budget < smallest:
            raise ConfigError(
                KEY,
                budget,
                f"below the smallest {family} ({smallest:,} parameters at {width_key}={step}); "
                f"use at least {smallest:,}",
            )
        raise ConfigError(
            KEY,
            budget,
            f"no {width_key} brings the {family} within ±10%; "
            f"the closest is {params:,} parameters at {width_key}={width}",
        )
    return BudgetFit(budget, width, params)


def _builds(count: Callable[[int], int], width: int) -> bool:
    """Whether the model accepts ``width`` (its constructor raises :class:`ConfigError` otherwise)."""
    try:
        count(width)
    except ConfigError:
        return False
    return True
