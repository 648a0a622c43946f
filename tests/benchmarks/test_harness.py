"""What the benchmarks share: a timing repeats short steps until they add up to a minimum time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from conftest import load_benchmark

harness = load_benchmark("_harness")


class FakeClock:
    """A ``perf_counter`` that moves only when a step says how long it took: timings that no machine load can bend."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def step(self, seconds: float):
        """A step that takes ``seconds`` on this clock."""

        def take() -> None:
            self.now += seconds

        return take


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(harness, "time", SimpleNamespace(perf_counter=fake.perf_counter))
    return fake


def test_steps_repeat_at_least_repeats_times():
    timed = harness.time_and_peak(lambda: None, 3, torch.device("cpu"))
    assert timed["repeats"] == 3
    assert timed["peak_extra_mb"] >= 0


def test_short_steps_repeat_until_they_add_up_to_min_seconds(clock):
    timed = harness.time_and_peak(clock.step(0.01), 1, torch.device("cpu"), min_seconds=0.05)
    assert timed["repeats"] == 5
    assert timed["seconds"] == pytest.approx(0.01)


def test_pairs_repeat_until_they_add_up_to_min_seconds_and_take_turns_going_first(clock):
    calls = []
    ours, theirs = harness.paired_medians(
        lambda: calls.append("ours") or clock.step(0.002)(),
        lambda: calls.append("reference") or clock.step(0.004)(),
        3,
        torch.device("cpu"),
        min_seconds=0.06,
    )
    timed = calls[4:]  # after two warm-up calls each
    assert len(timed) // 2 == 10  # more than repeats: the pairs of 6 ms add up to 60 ms
    assert timed[:4] == ["ours", "reference", "reference", "ours"]
    assert (ours, theirs) == (pytest.approx(0.002), pytest.approx(0.004))
