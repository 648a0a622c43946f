"""Verdicts from a stated test: Welch's t interval on a difference of means over seeds, judged against a margin.

A study states each comparison it makes as the interval of differences its claim allows
(``a − b > −0.02``: "a is at most 0.02 below b"). The comparison is *supported* when the whole
confidence interval of the difference lies inside that range, *contradicted* when it lies wholly
outside, and *inconclusive* when it straddles a bound. A study making ``m`` comparisons computes
each interval at confidence ``1 − α/m`` (Bonferroni), so all its intervals hold together with
probability at least ``1 − α``.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from scipy import stats

ALPHA = 0.05
"""The family-wise error rate of a study's intervals."""


class Outcome(str, Enum):
    """What a comparison, or a whole study, says about its claim."""

    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Difference:
    """``mean(a) − mean(b)`` over seeds and its two-sided confidence interval ``[low, high]``."""

    estimate: float
    low: float
    high: float
    confidence: float


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float) -> Difference:
    """Welch's t interval for ``mean(a) − mean(b)`` (unequal variances); unbounded with fewer than 2 values a side.

    Two arms that gave the same value on every seed have a zero-width interval at their difference.
    """
    estimate = statistics.fmean(a) - statistics.fmean(b) if a and b else math.nan
    if len(a) < 2 or len(b) < 2:
        return Difference(estimate, -math.inf, math.inf, confidence)
    if statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0:
        return Difference(estimate, estimate, estimate, confidence)
    with warnings.catch_warnings():  # one arm the same on every seed: its variance is 0, exactly what Welch needs
        warnings.filterwarnings("ignore", "Precision loss occurred in moment calculation", RuntimeWarning)
        low, high = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return Difference(estimate, float(low), float(high), confidence)


def judge(difference: Difference, low: float = -math.inf, high: float = math.inf) -> Outcome:
    """Whether ``difference``'s interval lies inside ``(low, high)`` (supported), outside it, or across a bound."""
    if low < difference.low and difference.high < high:
        return Outcome.SUPPORTED
    if difference.high <= low or difference.low >= high:
        return Outcome.CONTRADICTED
    return Outcome.INCONCLUSIVE


def combined(outcomes: Sequence[Outcome]) -> Outcome:
    """A claim made of several comparisons: contradicted if one is, supported if all are, else inconclusive."""
    if Outcome.CONTRADICTED in outcomes:
        return Outcome.CONTRADICTED
    if outcomes and all(outcome is Outcome.SUPPORTED for outcome in outcomes):
        return Outcome.SUPPORTED
    return Outcome.INCONCLUSIVE


def bonferroni(comparisons: int, alpha: float = ALPHA) -> float:
    """The confidence of each of ``comparisons`` intervals that hold together with probability ``1 − alpha``."""
    return 1 - alpha / max(comparisons, 1)
