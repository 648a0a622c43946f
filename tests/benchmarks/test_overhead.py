"""The overhead benchmark's protocol: the two sides take turns, and each run's first epoch is a warm-up."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, load_benchmark

overhead = load_benchmark("overhead")


def test_sides_take_turns_so_that_a_steady_drift_falls_on_both_equally():
    assert overhead.turns(1) == ["reference", "framework"]
    assert overhead.turns(2) == ["reference", "framework", "framework", "reference"]
    assert overhead.turns(3).count("reference") == overhead.turns(3).count("framework") == 3


def test_medians_pool_every_run_and_leave_out_each_runs_first_epoch():
    runs = [
        [{"train_s": 9.0, "epoch_s": 9.5}, {"train_s": 1.0, "epoch_s": 1.5}, {"train_s": 2.0, "epoch_s": 2.5}],
        [{"train_s": 8.0, "epoch_s": 8.5}, {"train_s": 3.0, "epoch_s": 3.5}, {"train_s": 4.0, "epoch_s": 4.5}],
    ]
    assert overhead.medians(runs) == {"train_s": 2.5, "epoch_s": 3.0}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--rounds", "0"], "--rounds must be at least 1"),
        (["--epochs", "2"], "--epochs must be at least 3 (the first is a warm-up, the last has no next start)"),
    ],
)
def test_too_few_rounds_or_epochs_are_refused_in_one_line(option, message):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "overhead.py"), *option], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(message)


def test_the_hand_written_loop_walks_each_epochs_own_order_and_saves_its_best_checkpoint(monkeypatch):
    import torch

    from framework.core.sampling import EpochShuffle

    orders, saved = [], []
    set_epoch = EpochShuffle.set_epoch
    monkeypatch.setattr(EpochShuffle, "set_epoch", lambda self, epoch: (orders.append(epoch), set_epoch(self, epoch)))
    monkeypatch.setattr(torch, "save", lambda checkpoint, path: saved.append(sorted(checkpoint)))

    times = overhead.reference_epochs(["modality=image", "model=attn"], 3, "cpu")

    assert orders == [0, 1, 2]
    assert saved and saved[0] == ["model", "optimizer"]  # the first epoch always improves on none
    assert len(times) == 3 and all(0 < epoch["train_s"] <= epoch["epoch_s"] for epoch in times)
