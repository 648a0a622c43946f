"""The LSTM anchor: our recurrent encoder and a bare nn.LSTM timed on the same padded batch."""

from __future__ import annotations

import torch
from conftest import load_benchmark

recurrent = load_benchmark("recurrent")


def test_a_length_gives_both_sides_times_and_throughputs():
    row = recurrent.measure(16, 4, 1, torch.device("cpu"))
    assert row["length"] == 16
    assert row["ours_s"] > 0 and row["bare_lstm_s"] > 0
    assert abs(row["ours_elements_per_s"] - 4 * 16 / row["ours_s"]) <= 0.01 * row["ours_elements_per_s"]
