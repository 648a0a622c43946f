"""Verdict statistics: Welch intervals on a difference of means, judged against the range a claim allows."""

from __future__ import annotations

import math
import warnings

import pytest

from framework.analysis.stats import Difference, Outcome, bonferroni, combined, judge, welch_interval


def test_the_welch_interval_is_centred_on_the_difference_of_means_and_matches_the_textbook_formula():
    a, b = [0.80, 0.82, 0.81, 0.83, 0.79], [0.75, 0.78, 0.74, 0.77, 0.76]
    found = welch_interval(a, b, 0.95)

    # Welch: se² = s_a²/n_a + s_b²/n_b; df by Welch–Satterthwaite; t quantile for df ≈ 7.9 is about 2.31.
    var_a, var_b = 0.00025, 0.00025
    se = math.sqrt(var_a / 5 + var_b / 5)
    assert found.estimate == pytest.approx(0.05)
    assert (found.low + found.high) / 2 == pytest.approx(0.05)
    assert (found.high - found.low) / 2 == pytest.approx(2.306 * se, rel=0.01)


def test_a_higher_confidence_gives_a_wider_interval():
    a, b = [0.80, 0.82, 0.81], [0.75, 0.78, 0.74]
    narrow, wide = welch_interval(a, b, 0.9), welch_interval(a, b, 0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_one_seed_on_a_side_gives_an_unbounded_interval():
    found = welch_interval([0.8], [0.7, 0.72], 0.95)
    assert found.estimate == pytest.approx(0.09) and math.isinf(found.low) and math.isinf(found.high)


def test_two_arms_without_spread_have_a_point_interval_at_their_difference():
    found = welch_interval([1.0, 1.0, 1.0], [0.5, 0.5, 0.5], 0.95)
    assert found.low == found.high == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("low", "high", "bounds", "outcome"),
    [
        (0.02, 0.06, {"low": 0.0}, Outcome.SUPPORTED),  # wholly above the bound
        (-0.06, -0.02, {"low": 0.0}, Outcome.CONTRADICTED),  # wholly below it
        (-0.01, 0.03, {"low": 0.0}, Outcome.INCONCLUSIVE),  # straddles it
        (-0.01, 0.01, {"low": -0.02, "high": 0.02}, Outcome.SUPPORTED),  # inside an equivalence range
        (0.03, 0.05, {"low": -0.02, "high": 0.02}, Outcome.CONTRADICTED),  # wholly outside it
        (-math.inf, math.inf, {"low": 0.0}, Outcome.INCONCLUSIVE),  # too few seeds to say
    ],
)
def test_a_comparison_is_judged_by_where_its_interval_lies(low, high, bounds, outcome):
    assert judge(Difference((low + high) / 2, low, high, 0.95), **bounds) is outcome


def test_a_claim_is_contradicted_by_any_part_and_supported_only_by_all():
    s, c, i = Outcome.SUPPORTED, Outcome.CONTRADICTED, Outcome.INCONCLUSIVE
    assert combined([s, s]) is s
    assert combined([s, i]) is i
    assert combined([s, i, c]) is c
    assert combined([]) is i


def test_bonferroni_splits_the_error_rate_over_the_comparisons():
    assert bonferroni(1) == pytest.approx(0.95)
    assert bonferroni(5) == pytest.approx(0.99)


def test_an_arm_with_the_same_score_on_every_seed_gives_an_interval_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy warns of "catastrophic cancellation" on a constant sample
        found = welch_interval([1.0, 1.0, 0.99999994, 1.0, 1.0], [1.0] * 5, 0.95)

    assert found.low < found.estimate < found.high
