"""A study's verdict: comparisons tested together (Bonferroni), plus checks, give one of three outcomes."""

from __future__ import annotations

from framework.analysis.stats import Outcome
from framework.analysis.verdict import Check, Comparison, verdict_from

CLEAR_WIN = ([0.85, 0.86, 0.84, 0.85, 0.86], [0.80, 0.81, 0.79, 0.80, 0.81])
NOISY_WIN = ([0.86, 0.80, 0.88, 0.79, 0.85], [0.80, 0.83, 0.78, 0.81, 0.79])


def test_a_clear_win_beyond_the_margin_is_supported_and_the_report_gets_its_interval():
    found = verdict_from([Comparison("a beats b by more than 0.01", *CLEAR_WIN, low=0.01)], "why")

    assert found.outcome is Outcome.SUPPORTED
    (finding,) = found.findings
    assert finding.difference.low > 0.01 and finding.comparison.allows() == "> +0.010"
    assert "Welch" in found.test and "95.0 %" in found.test


def test_a_loss_beyond_the_margin_contradicts_a_claim_of_matching():
    b, a = CLEAR_WIN  # a is clearly below b
    found = verdict_from([Comparison("a is at most 0.01 below b", a, b, low=-0.01)], "why")
    assert found.outcome is Outcome.CONTRADICTED


def test_noise_that_straddles_the_margin_is_inconclusive():
    found = verdict_from([Comparison("a beats b", *NOISY_WIN, low=0.0)], "why")
    assert found.outcome is Outcome.INCONCLUSIVE


def test_more_comparisons_widen_each_interval_so_a_marginal_win_becomes_inconclusive():
    a, b = [0.830, 0.842, 0.836, 0.828, 0.840], [0.820, 0.826, 0.818, 0.824, 0.822]
    alone = verdict_from([Comparison("a beats b by 0.005", a, b, low=0.005)], "why")
    among_five = verdict_from([Comparison("a beats b by 0.005", a, b, low=0.005)] * 5, "why")

    assert alone.outcome is Outcome.SUPPORTED
    assert among_five.outcome is Outcome.INCONCLUSIVE
    assert among_five.findings[0].difference.confidence == 0.99 and "Bonferroni: 5 comparisons" in among_five.test


def test_a_failed_check_contradicts_the_claim_whatever_the_comparisons_say():
    found = verdict_from([Comparison("a beats b", *CLEAR_WIN)], "why", [Check("the output was equivariant", False)])
    assert found.outcome is Outcome.CONTRADICTED
    assert [f.outcome for f in found.findings] == [Outcome.CONTRADICTED, Outcome.SUPPORTED]
