"""What the benchmarks share: a timing repeats short steps until they add up to a minimum time."""

from __future__ import annotations

import time

import torch
from conftest import load_benchmark

harness = load_benchmark("_harness")


def test_steps_repeat_at_least_repeats_times():
    timed = harness.time_and_peak(lambda: None, 3, torch.device("cpu"))
    assert timed["repeats"] == 3
    assert timed["peak_extra_mb"] >= 0


def test_short_steps_repeat_until_they_add_up_to_min_seconds():
    timed = harness.time_and_peak(lambda: time.sleep(0.01), 1, torch.device("cpu"), min_seconds=0.05)
    assert 5 <= timed["repeats"] <= 6
    assert timed["seconds"] >= 0.01


def test_pairs_repeat_until_they_add_up_to_min_seconds_and_take_turns_going_first():
    calls = []
    ours, theirs = harness.paired_medians(
        lambda: calls.append("ours") or time.sleep(0.002),
        lambda: calls.append("reference") or time.sleep(0.004),
        3,
        torch.device("cpu"),
        min_seconds=0.06,
    )
    timed = calls[4:]  # after two warm-up calls each
    assert 3 < len(timed) // 2 <= 11  # more than repeats: the pairs of 6 ms add up to 60 ms
    assert timed[:4] == ["ours", "reference", "reference", "ours"]
    assert 0.002 <= ours < theirs
