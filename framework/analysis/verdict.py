"""A study's verdict: its claim split into comparisons of two arms, each tested with an interval, then combined."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from framework.analysis.stats import ALPHA, Difference, Outcome, bonferroni, combined, judge, welch_interval


@dataclass(frozen=True)
class Comparison:
    """One comparison a claim makes: ``mean(a) − mean(b)`` over seeds must lie in ``(low, high)``.

    ``low=-0.02`` says "a is at most 0.02 below b", ``low=0.05`` "a beats b by more than 0.05",
    ``low=-0.02, high=0.02`` "a and b are within 0.02".
    """

    says: str
    a: Sequence[float]
    b: Sequence[float]
    low: float = -math.inf
    high: float = math.inf

    def allows(self) -> str:
        """The range the claim allows the difference, as the report prints it (``> −0.020``)."""
        if math.isinf(self.high):
            return f"> {self.low:+.3f}"
        if math.isinf(self.low):
            return f"< {self.high:+.3f}"
        return f"in ({self.low:+.3f}, {self.high:+.3f})"


@dataclass(frozen=True)
class Finding:
    """One part of a verdict: what it says, its outcome, and (for a comparison) the interval it was judged on."""

    says: str
    outcome: Outcome
    comparison: Comparison | None = None
    difference: Difference | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether a study's numbers support its claim, the findings it rests on, and the test that judged them."""

    outcome: Outcome
    reason: str
    findings: tuple[Finding, ...] = ()
    test: str = ""

    @classmethod
    def missing(cls, names: Sequence[str]) -> Verdict:
        """Inconclusive: the arms ``names`` have no finished run."""
        return cls(Outcome.INCONCLUSIVE, f"no finished runs for {', '.join(names)}; nothing to conclude")


@dataclass(frozen=True)
class Check:
    """A finding that needs no statistics (a deterministic check, a measured growth rate): ``says`` is ``holds``."""

    says: str
    holds: bool


def verdict_from(
    comparisons: Sequence[Comparison], reason: str, checks: Sequence[Check] = (), alpha: float = ALPHA
) -> Verdict:
    """The verdict on ``comparisons`` (Welch intervals, Bonferroni-corrected together) and ``checks``.

    The claim is supported when every comparison and check is, contradicted when any one is.
    """
    confidence = bonferroni(len(comparisons), alpha)
    findings = [Finding(check.says, Outcome.SUPPORTED if check.holds else Outcome.CONTRADICTED) for check in checks]
    for comparison in comparisons:
        difference = welch_interval(comparison.a, comparison.b, confidence)
        findings.append(
            Finding(comparison.says, judge(difference, comparison.low, comparison.high), comparison, difference)
        )
    test = (
        f"Welch's t interval on each difference of mean test scores over seeds, at {100 * confidence:.1f} % "
        f"(Bonferroni: {len(comparisons)} comparison{'s' if len(comparisons) != 1 else ''} "
        f"holding together at {100 * (1 - alpha):.0f} %)"
        if comparisons
        else ""
    )
    return Verdict(combined([finding.outcome for finding in findings]), reason, tuple(findings), test)
