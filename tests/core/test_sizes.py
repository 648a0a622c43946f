"""Sizes are checked with arithmetic: divisors in O(√n), a model too large for memory refused before it is built."""

from __future__ import annotations

import pytest

from framework.core.errors import ConfigError
from framework.core.sizes import BYTES_PER_PARAMETER, divisors, listed, physical_memory, require_fits


@pytest.mark.parametrize("n", [1, 2, 12, 36, 64, 97, 360, 1000])
def test_divisors_are_every_whole_divisor_in_order(n):
    assert divisors(n) == [d for d in range(1, n + 1) if n % d == 0]


def test_the_divisors_of_a_trillion_come_without_enumerating_a_trillion_numbers():
    found = divisors(10**12)

    assert len(found) == 169 and found[:4] == [1, 2, 4, 5] and found[-1] == 10**12


def test_a_long_list_is_shown_by_its_ends_and_its_length():
    assert listed([1, 2, 4, 8]) == "1, 2, 4, 8"
    assert listed(divisors(10**12)).endswith("500000000000, 1000000000000 (169 in all)")


def test_a_model_that_fits_in_memory_passes():
    require_fits({"dim": 64, "layers": 3}, physical_memory() // BYTES_PER_PARAMETER)


def test_a_model_too_large_for_memory_names_its_largest_size_and_the_estimate():
    with pytest.raises(ConfigError, match=r"layers=100000000: with dim=128, the model would have at least 6\.55e\+12"):
        require_fits({"dim": 128, "layers": 10**8}, 4 * 10**8 * 128**2)


def test_a_count_beyond_any_float_is_still_said_in_one_short_line():
    with pytest.raises(ConfigError) as refused:
        require_fits({"dim": 10**400}, 10**800)

    assert "at least 10^800 parameters" in str(refused.value) and "\n" not in str(refused.value)
