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
